"""The SavedModel bundle (`symdiff export`, `symdiff_tf.export`) on a tiny MusicVAE and a tiny diffusion run: it
loads and runs in a process that imports only TensorFlow and numpy (`tf.saved_model.load`, and a
`tf.compat.v1.Session` fed through the signature_defs as TF Serving's C++ loader does), as a Keras `TFSMLayer`,
and with `saved_model_cli`; its outputs are the library's for the same seeds; its MIDI files hold its notes; bad
inputs fail with messages that name them."""
import io
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from symdiff_tf import cli, musicvae
from symdiff_tf.diffusion.inference import open_run
from symdiff_tf.generation.pipeline import Melodies, Pipeline
from symdiff_tf.generation.song import song_window
from symdiff_tf.musicvae.identity import vae_content_hash
from conftest import TINY_KEPT_DIMS as KEPT_DIMS

SEEDS = np.array([3, 8], np.int32)
KEEP = np.zeros((2, 64), bool)  # per bar, true = keep
KEEP[:, :16] = KEEP[:, 48:] = True  # the paper's setting: 16 bars kept on each side
KEEP[1, 16:25] = True  # and 9 more: bar 25 is half of a chunk, kept by pasting it back

# in a process that has imported nothing but TensorFlow and numpy: run each call of the plan through
# tf.saved_model.load and through a graph-mode session on the signature_defs, and each bad input
FRESH_PROCESS = r"""
import json, sys
import numpy as np
import tensorflow as tf

bundle, folder = sys.argv[1], sys.argv[2]
plan = json.loads(open(f"{folder}/plan.json").read())

def inputs(files):
    return {name: np.load(f"{folder}/{file}") for name, file in files.items()}

loaded = tf.saved_model.load(bundle)
for call, (signature, files) in plan["calls"].items():
    outputs = loaded.signatures[signature](**{name: tf.constant(v) for name, v in inputs(files).items()})
    for key, value in outputs.items():
        np.save(f"{folder}/v2_{call}_{key}.npy", value.numpy())
errors = {}
for case, (signature, files) in plan["bad"].items():
    try:
        loaded.signatures[signature](**{name: tf.constant(v) for name, v in inputs(files).items()})
        errors[case] = None
    except tf.errors.InvalidArgumentError as error:
        errors[case] = error.message
with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], bundle)
    for call, (signature, files) in plan["calls"].items():
        signature_def = meta_graph.signature_def[signature]
        feeds = {signature_def.inputs[name].name: value for name, value in inputs(files).items()}
        keys = sorted(signature_def.outputs)
        values = session.run([signature_def.outputs[key].name for key in keys], feed_dict=feeds)
        for key, value in zip(keys, values):
            np.save(f"{folder}/v1_{call}_{key}.npy", value)
json.dump({"errors": errors, "ours": sorted(m for m in sys.modules if m.split(".")[0] in ("symdiff_tf", "tfds_lakh"))},
          open(f"{folder}/report.json", "w"))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_run):
    """(bundle folder, library `Pipeline`, vae path, run folder, work folder with the inputs)."""
    root = tmp_path_factory.mktemp("export")
    vae_path, run = tiny_run
    bundle = root / "served" / "symdiff" / "1"
    assert cli.main(["export", "--vae", str(vae_path), "--diffusion", str(run), "--out", str(bundle)]) == 0
    return bundle, Pipeline(open_run(run), musicvae.load(vae_path)), vae_path, run, root


@pytest.fixture(scope="module")
def calls(exported, pop909_dir):
    """name → (signature, inputs as arrays, the library's result) of every call the tests make."""
    _, generator, *_ = exported
    song = song_window(pop909_dir / "003.mid", (17, 48), track="MELODY").tokens
    songs = np.stack([song, np.roll(song, 3, axis=0)])
    sampled = generator.sample(SEEDS, generator.options(scheduler="ddim", steps=3))

    def scalars(scheduler, steps, temperature, eta=0.0):
        return {"scheduler": np.array(scheduler), "steps": np.array(steps, np.int32),
                "eta": np.array(eta, np.float32), "temperature": np.array(temperature, np.float32)}

    return {
        "sample_ddim": ("sample", {"seeds": SEEDS, **scalars("ddim", 3, 0.0)}, sampled),
        "sample_dpm": ("sample", {"seeds": SEEDS, **scalars("dpm-solver++", 4, 0.0)},
                       generator.sample(SEEDS, generator.options(scheduler="dpm-solver++", steps=4))),
        "ddim_with_eta": ("sample", {"seeds": SEEDS, **scalars("ddim", 4, 0.0, eta=0.7)},
                            generator.sample(SEEDS, generator.options(scheduler="ddim", steps=4, eta=0.7))),
        "serving_default": ("serving_default", {"seeds": SEEDS}, generator.sample(SEEDS)),
        "sample_ddpm_warm": ("sample", {"seeds": SEEDS, **scalars("ddpm", 20, 0.8)},
                             generator.sample(SEEDS, generator.options(scheduler="ddpm", temperature=0.8))),
        "infill": ("infill", {"tokens": songs, "mask": KEEP, "seeds": SEEDS, **scalars("ddim", 3, 0.0),
                              "resample": np.array(2, np.int32), "repeat_start": np.array(1.0, np.float32)},
                   generator.infill(songs, KEEP, SEEDS, generator.options(scheduler="ddim", steps=3, resample=2))),
        "repeat_start_infill": ("infill", {"tokens": songs, "mask": KEEP, "seeds": SEEDS,
                                           **scalars("ddpm", 20, 0.0), "resample": np.array(1, np.int32),
                                           "repeat_start": np.array(0.4, np.float32)},
                                generator.infill(songs, KEEP, SEEDS, generator.options(scheduler="ddpm",
                                                                                       repeat_start=0.4))),
        "encode": ("encode", {"tokens": songs}, generator.encode(songs)),
        "decode": ("decode", {"latents": sampled.latents, "temperature": np.array(0.0, np.float32)},
                   generator.decode(sampled.latents)),
    }


BAD = {  # name → (signature, the call to change, input → new value, what the message must say)
    "seeds of rank 2": ("sample", "sample_ddim", {"seeds": np.array([[3]], np.int32)},
                        "seeds: expected int32 [batch], one seed per melody"),
    "no seeds": ("sample", "sample_ddim", {"seeds": np.zeros([0], np.int32)}, "seeds: expected int32 [batch]"),
    "steps 0": ("sample", "sample_ddim", {"steps": np.array(0, np.int32)}, "steps: expected 1..20"),
    "steps N + 1": ("sample", "sample_ddim", {"steps": np.array(21, np.int32)}, "steps: expected 1..20"),
    "steps not a scalar": ("sample", "sample_ddim", {"steps": np.array([3], np.int32)},
                           "steps: expected an int32 scalar"),
    "negative temperature": ("sample", "sample_ddim", {"temperature": np.array(-1.0, np.float32)},
                             "temperature: expected a finite number >= 0"),
    "tokens of a wrong shape": ("infill", "infill", {"tokens": np.zeros((2, 31, 32), np.int32)},
                                "tokens: expected int32 [batch, 32, 32]"),
    "token 90": ("infill", "infill", {"tokens": np.full((2, 32, 32), 90, np.int32)},
                 "tokens: expected class indices 0..89"),
    "mask keeps everything": ("infill", "infill", {"mask": np.ones((2, 64), bool)},
                              "mask: expected each melody to regenerate at least one bar"),
    "mask of a wrong shape": ("infill", "infill", {"mask": KEEP[:, :32]}, "mask: expected bool [batch, 64]"),
    "unknown scheduler": ("sample", "sample_ddim", {"scheduler": np.array("euler")},
                          "scheduler: expected one of ddpm, ddim, dpm-solver++"),
    "eta for ddpm": ("sample", "sample_ddpm_warm", {"eta": np.array(0.5, np.float32)},
                     "eta: only ddim has an eta; give 0 for the other schedulers"),
    "negative eta": ("sample", "sample_ddim", {"eta": np.array(-0.5, np.float32)},
                     "eta: expected a finite number >= 0"),
    "resample 0": ("infill", "infill", {"resample": np.array(0, np.int32)},
                   "resample: expected 1..20 passes per step, more than 1 only with ddpm or ddim; got"),
    "resample with dpm-solver++": ("infill", "infill", {"scheduler": np.array("dpm-solver++")},
                                   "resample: expected 1..20 passes per step, more than 1 only with ddpm or ddim"),
    "repeat_start 0": ("infill", "infill", {"repeat_start": np.array(0.0, np.float32)},
                       "repeat_start: expected a number in (0, 1]"),
    "repeat_start above 1": ("infill", "infill", {"repeat_start": np.array(1.5, np.float32)},
                             "repeat_start: expected a number in (0, 1]"),
    "mask for another batch": ("infill", "infill", {"mask": KEEP[:1]},
                               "mask: expected one entry per melody, as many as tokens has"),
    "seeds for another batch": ("infill", "infill", {"seeds": SEEDS[:1]},
                                "seeds: expected one entry per melody, as many as tokens has"),
    "encode token -1": ("encode", "encode", {"tokens": np.full((1, 32, 32), -1, np.int32)},
                        "tokens: expected class indices 0..89"),
    "latents of other dims": ("decode", "decode", {"latents": np.zeros((1, 32, 5), np.float32)},
                              f"latents: expected float32 [batch, 32, {len(KEPT_DIMS)}]"),
    "latents not finite": ("decode", "decode", {"latents": np.full((1, 32, len(KEPT_DIMS)), np.nan, np.float32)},
                           "latents: expected finite values"),
}


def _save_inputs(folder, prefix, inputs) -> dict:
    files = {}
    for name, value in inputs.items():
        files[name] = f"{prefix}_{name}.npy"
        np.save(folder / files[name], value)
    return files


@pytest.fixture(scope="module")
def fresh_process(exported, calls):
    """Runs `FRESH_PROCESS`; returns (folder with its outputs, its report)."""
    bundle, *_, root = exported
    folder = root / "fresh"
    folder.mkdir()
    plan = {"calls": {name: (signature, _save_inputs(folder, name, inputs))
                      for name, (signature, inputs, _) in calls.items()},
            "bad": {}}
    for index, (case, (signature, base, changes, _)) in enumerate(BAD.items()):
        plan["bad"][case] = (signature, _save_inputs(folder, f"bad{index}", {**calls[base][1], **changes}))
    (folder / "plan.json").write_text(json.dumps(plan))
    done = subprocess.run([sys.executable, "-c", FRESH_PROCESS, str(bundle), str(folder)], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder, json.loads((folder / "report.json").read_text())


def _notes_of_midi(data):
    """(starts, ends, pitches) in 16th-note steps of the one instrument in MIDI file bytes, read by pretty_midi."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(io.BytesIO(data))
    assert len(midi.instruments) <= 1
    notes = midi.instruments[0].notes if midi.instruments else []
    steps = np.array([[note.start, note.end] for note in notes]).reshape(-1, 2) / 0.125
    assert np.allclose(steps, np.round(steps), atol=1e-6)
    steps = np.round(steps).astype(int)
    return steps[:, 0], steps[:, 1], np.array([note.pitch for note in notes], int)


def _check_outputs(outputs, expected, name):
    """Bundle outputs (a dict of arrays) of call `name` against the library's `Melodies` (or (mu, sigma) for
    encode)."""
    if name == "encode":
        for key, value in zip(("mu", "sigma"), expected):
            np.testing.assert_allclose(outputs[key], value, rtol=1e-5, atol=1e-5, err_msg=name)
        return
    assert sorted(outputs) == ["ends", "latents", "midi_bytes", "num_notes", "pitches", "starts", "tokens"]
    np.testing.assert_array_equal(outputs["tokens"], expected.tokens, err_msg=name)
    np.testing.assert_allclose(outputs["latents"], expected.latents, atol=2e-5, err_msg=name)
    for index in range(len(expected)):
        count = outputs["num_notes"][index]
        found = [outputs[key][index, :count] for key in ("starts", "ends", "pitches")]
        assert not any(outputs[key][index, count:].any() for key in ("starts", "ends", "pitches"))
        for got, want, from_midi in zip(found, expected.notes(index), _notes_of_midi(outputs["midi_bytes"][index])):
            np.testing.assert_array_equal(got, want, err_msg=name)
            np.testing.assert_array_equal(from_midi, want, err_msg=name)


def _loaded_outputs(folder, prefix, name):
    return {path.name[len(f"{prefix}_{name}_"):-4]: np.load(path, allow_pickle=True)
            for path in folder.glob(f"{prefix}_{name}_*.npy")}


def test_the_bundle_is_in_the_serving_layout_with_its_provenance(exported):
    bundle, generator, vae_path, run, root = exported
    assert (bundle / "saved_model.pb").is_file() and (bundle / "variables" / "variables.index").is_file()
    assert sorted(path.name for path in (bundle / "assets").iterdir()) == [
        "config.yaml", "latent_scaling.json", "provenance.json"]
    provenance = json.loads((bundle / "assets" / "provenance.json").read_text())
    assert provenance["vae_content_hash"] == vae_content_hash(generator.vae)
    assert provenance["training_steps"] == 2 and provenance["data"] == str(run.parent / "windows.npz")
    assert provenance["latent_scaling"]["kept_dims"] == list(KEPT_DIMS)
    assert provenance["sampler"]["num_diffusion_steps"] == 20 and provenance["packages"]["tensorflow"]
    assert provenance["sampler"]["schedulers"] == ["ddpm", "ddim", "dpm-solver++"]
    assert (provenance["sampler"]["default_scheduler"], provenance["sampler"]["default_steps"]) == ("ddpm", 20)
    assert (bundle / "assets" / "config.yaml").read_text() == (run / "config.yaml").read_text()
    with pytest.raises(ValueError, match="already holds files; pick the next VERSION"):
        cli_main_raising(["export", "--vae", str(vae_path), "--diffusion", str(run), "--out", str(bundle)])
    with pytest.raises(ValueError, match="expected DIR/NAME/VERSION with VERSION a positive integer"):
        cli_main_raising(["export", "--vae", str(vae_path), "--diffusion", str(run), "--out", str(root / "v")])


def test_an_export_with_another_config_takes_its_sampling_defaults(exported, tmp_path):
    import yaml

    from symdiff_tf.cli.commands.generating import BundleModel

    _, _, vae_path, run, _ = exported
    sections = yaml.safe_load((run / "config.yaml").read_text())
    sections["ddpm"]["sampling"].update(infill_resample=3, method="ddim")
    config = tmp_path / "served.yaml"
    config.write_text(yaml.safe_dump(sections))
    bundle = tmp_path / "symdiff" / "1"
    assert cli.main(["export", "--vae", str(vae_path), "--diffusion", str(run), "--config", str(config), "--out",
                     str(bundle)]) == 0
    sampler = json.loads((bundle / "assets" / "provenance.json").read_text())["sampler"]
    assert (sampler["default_scheduler"], sampler["default_infill_resample"]) == ("ddim", 3)
    options = BundleModel(bundle).options()
    assert (options.scheduler, options.resample) == ("ddim", 3)
    assert BundleModel(bundle).options(scheduler="dpm-solver++").resample == 1  # it cannot take a step again
    again = tmp_path / "symdiff" / "2"  # a bundle's own weights with the config's sampling defaults
    assert cli.main(["export", "--bundle", str(exported[0]), "--config", str(config), "--out", str(again)]) == 0
    assert BundleModel(again).options().resample == 3
    sections["ddpm"]["schedule"]["num_steps"] = 7
    config.write_text(yaml.safe_dump(sections))
    with pytest.raises(ValueError, match="its ddpm.schedule is not the bundle's"):
        cli_main_raising(["export", "--bundle", str(exported[0]), "--config", str(config), "--out",
                          str(tmp_path / "symdiff" / "3")])


def test_an_export_takes_set_overrides_of_the_sampling_defaults(exported, tmp_path):
    import yaml

    from symdiff_tf.cli.commands.generating import BundleModel

    _, _, vae_path, run, _ = exported
    bundle = tmp_path / "symdiff" / "1"
    assert cli.main(["export", "--vae", str(vae_path), "--diffusion", str(run), "--set",
                     "ddpm.sampling.infill_resample=2", "--out", str(bundle)]) == 0
    assert BundleModel(bundle).options().resample == 2
    written = yaml.safe_load((bundle / "assets" / "config.yaml").read_text())["ddpm"]["sampling"]
    assert written["infill_resample"] == 2  # the bundle's config says what it does
    again = tmp_path / "symdiff" / "2"  # a bundle's own config, overridden
    assert cli.main(["export", "--bundle", str(bundle), "--set", "ddpm.sampling.infill_resample=5", "--out",
                     str(again)]) == 0
    assert BundleModel(again).options().resample == 5
    with pytest.raises(ValueError, match="--set latents.window_chunks=8: a bundle takes only the ddpm: section"):
        cli_main_raising(["export", "--bundle", str(bundle), "--set", "latents.window_chunks=8", "--out",
                          str(tmp_path / "symdiff" / "3")])
    with pytest.raises(ValueError, match="with --set ddpm.model.num_layers=9: its ddpm.model is not the bundle's"):
        cli_main_raising(["export", "--bundle", str(bundle), "--set", "ddpm.model.num_layers=9", "--out",
                          str(tmp_path / "symdiff" / "3")])


def test_extract_vae_writes_the_bundles_musicvae_with_its_content_hash(exported, tmp_path, capsys):
    from symdiff_tf import musicvae
    from symdiff_tf.musicvae.identity import vae_content_hash

    bundle, _, vae_path, _, _ = exported
    out = tmp_path / "vae" / "from_bundle.keras"
    assert cli.main(["extract-vae", str(bundle), "--out", str(out)]) == 0
    assert vae_content_hash(musicvae.load(out)) == vae_content_hash(musicvae.load(vae_path))
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "next: " in printed
    with pytest.raises(ValueError, match="already exists"):
        cli_main_raising(["extract-vae", str(bundle), "--out", str(out)])
    with pytest.raises(ValueError, match="must end in .keras"):
        cli_main_raising(["extract-vae", str(bundle), "--out", str(tmp_path / "vae.h5")])
    with pytest.raises(ValueError, match="no saved_model.pb"):
        cli_main_raising(["extract-vae", str(bundle.parent), "--out", str(tmp_path / "other.keras")])


def cli_main_raising(argv):
    """`symdiff ARGV` with its ValueError raised rather than printed."""
    args = cli.build_parser(argv[0]).parse_args(argv)
    return args.func(args)


@pytest.mark.parametrize("loader", ["v2", "v1"])
def test_a_process_with_only_tensorflow_runs_every_signature_as_the_library(fresh_process, calls, loader):
    folder, report = fresh_process
    assert report["ours"] == []
    for name, (_, _, expected) in calls.items():
        _check_outputs(_loaded_outputs(folder, loader, name), expected, name)


def test_bundle_outputs_become_library_melodies(fresh_process, calls, tmp_path):
    folder, _ = fresh_process
    outputs = _loaded_outputs(folder, "v2", "infill")
    melodies = Melodies.from_notes(outputs["tokens"], outputs["pitches"], outputs["starts"], outputs["ends"],
                                   outputs["num_notes"], KEEP, outputs["midi_bytes"])
    expected = calls["infill"][2]
    for index in range(2):
        for got, want in zip(melodies.notes(index), expected.notes(index)):
            np.testing.assert_array_equal(got, want)
    assert len(melodies.write(tmp_path, ["a", "b"], grid=None)) == 4


def test_infill_gives_back_the_kept_bars_token_for_token(fresh_process, calls):
    folder, _ = fresh_process
    bars = np.load(folder / "v2_infill_tokens.npy").reshape(2, 64, 16)
    songs = calls["infill"][1]["tokens"].reshape(2, 64, 16)
    np.testing.assert_array_equal(bars[KEEP], songs[KEEP])  # bar 25 of melody 1 too: half of a generated chunk
    assert all((bars[i][~KEEP[i]] != songs[i][~KEEP[i]]).any() for i in range(2))


def test_midi_bytes_read_by_note_seq(fresh_process):
    import note_seq

    folder, _ = fresh_process
    files = np.load(folder / "v2_sample_ddim_midi_bytes.npy", allow_pickle=True)
    for index, data in enumerate(files):
        sequence = note_seq.midi_to_note_sequence(data)
        count = np.load(folder / "v2_sample_ddim_num_notes.npy")[index]
        pitches = np.load(folder / "v2_sample_ddim_pitches.npy")[index, :count]
        starts = np.load(folder / "v2_sample_ddim_starts.npy")[index, :count]
        assert sequence.tempos[0].qpm == 120 and len(sequence.notes) == count > 0
        np.testing.assert_array_equal([note.pitch for note in sequence.notes], pitches)
        np.testing.assert_allclose([note.start_time for note in sequence.notes], starts * 0.125, atol=1e-6)
        assert sequence.total_time <= 128.0


@pytest.mark.parametrize("case", list(BAD))
def test_each_bad_input_gets_its_message(fresh_process, case):
    _, report = fresh_process
    message = report["errors"][case]
    assert message is not None, f"{case}: no error"
    assert BAD[case][3] in message, message


def test_keras_tfsm_layer_runs_the_endpoints(exported, calls):
    import keras

    bundle = exported[0]
    sample = keras.layers.TFSMLayer(str(bundle), call_endpoint="sample")
    _, inputs, expected = calls["sample_ddim"]
    outputs = sample(inputs["seeds"], scheduler=inputs["scheduler"], steps=inputs["steps"], eta=inputs["eta"],
                     temperature=inputs["temperature"])
    _check_outputs({key: np.asarray(value) for key, value in outputs.items()}, expected, "sample_ddim")
    encode = keras.layers.TFSMLayer(str(bundle), call_endpoint="encode")
    _, inputs, expected = calls["encode"]
    _check_outputs({key: np.asarray(value) for key, value in encode(inputs["tokens"]).items()}, expected,
                   "encode")


def test_saved_model_cli_shows_every_signature(exported):
    shown = subprocess.run([str(pathlib.Path(sys.executable).with_name("saved_model_cli")), "show", "--dir",
                            str(exported[0]), "--all"], capture_output=True, text=True, timeout=600)
    assert shown.returncode == 0, shown.stderr[-3000:]
    for signature in ("sample", "serving_default", "infill", "encode", "decode"):
        assert f"signature_def['{signature}']" in shown.stdout
    for name in ("seeds", "scheduler", "steps", "eta", "temperature", "tokens", "mask", "resample", "repeat_start",
                 "latents", "midi_bytes", "num_notes", "mu"):
        assert f"['{name}']" in shown.stdout


# each run loads the bundle in a new process (about 10 s here): one in CI, all by hand with -m slow
@pytest.mark.parametrize("name", ["infill", pytest.param("sample_ddim", marks=pytest.mark.slow),
                                  pytest.param("encode", marks=pytest.mark.slow),
                                  pytest.param("decode", marks=pytest.mark.slow)])
def test_saved_model_cli_runs_the_signature_on_npy_files(exported, calls, name):
    bundle, *_, root = exported
    folder = root / f"cli_{name}"
    folder.mkdir()
    signature, inputs, expected = calls[name]
    files = _save_inputs(folder, name, inputs)
    done = subprocess.run(
        [str(pathlib.Path(sys.executable).with_name("saved_model_cli")), "run", "--dir", str(bundle), "--tag_set",
         "serve", "--signature_def", signature, "--inputs",
         ";".join(f"{key}={folder / file}" for key, file in files.items()), "--outdir", str(folder / "out")],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = {path.stem: np.load(path, allow_pickle=True) for path in (folder / "out").glob("*.npy")}
    _check_outputs(outputs, expected, name)
