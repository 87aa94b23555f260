"""Music in and out of the command line, one pipeline on every path: per seed and scheduler, `symdiff sample` with a
bundle (`--model`), with a run plus `--vae`, the `.npy` latents of a run and the library give the same melody;
options a path cannot honour are refused with one line; the shipped model makes music."""
import io

import numpy as np
import pretty_midi
import pytest

from symdiff_tf import cli, musicvae
from symdiff_tf.cli.commands.generating import bundle_message, model_dir
from symdiff_tf.diffusion.inference import open_run
from symdiff_tf.generation.pipeline import Pipeline


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_run):
    """(vae path, run, bundle parent folder holding version 1, library `Pipeline`)."""
    root = tmp_path_factory.mktemp("music")
    vae, run = tiny_run
    assert cli.main(["export", "--vae", str(vae), "--diffusion", str(run), "--out", str(root / "bundle" / "1")]) == 0
    return vae, run, root / "bundle", Pipeline(open_run(run), musicvae.load(vae))


def notes_of(data) -> list:
    """(pitch, start s, end s) of every note of MIDI file bytes, rounded to the microsecond."""
    midi = pretty_midi.PrettyMIDI(io.BytesIO(data))
    return [(n.pitch, round(n.start, 6), round(n.end, 6)) for i in midi.instruments for n in i.notes]


def library_notes(melodies, index) -> list:
    starts, ends, pitches = melodies.notes(index)
    return [(int(p), round(s * 0.125, 6), round(e * 0.125, 6)) for s, e, p in zip(starts, ends, pitches)]


@pytest.mark.parametrize("scheduler, steps", [("ddpm", 20), ("ddim", 4), ("dpm-solver++", 4)])
def test_every_path_gives_the_same_melody_for_a_seed(tiny, tmp_path, scheduler, steps):
    vae, run, bundle, pipeline = tiny
    options = ["--scheduler", scheduler, "--steps", str(steps), "--no-progress"]
    assert cli.main(["sample", "--model", str(bundle), "--num", "3", "--seed", "7", "--out", str(tmp_path / "a"),
                     *options]) == 0
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "sample_0007.mid", "sample_0007.png", "sample_0008.mid", "sample_0008.png", "sample_0009.mid",
        "sample_0009.png", "sample_grid.png"]
    assert cli.main(["sample", "--model", str(bundle / "1"), "--num", "1", "--seed", "8", "--out",
                     str(tmp_path / "b"), *options]) == 0
    assert cli.main(["sample", "--checkpoint", str(run), "--vae", str(vae), "--num", "1", "--seed", "8", "--out",
                     str(tmp_path / "c"), *options]) == 0
    assert cli.main(["sample", "--checkpoint", str(run), "--num", "2", "--seed", "7", "--out",
                     str(tmp_path / "latents.npy"), *options]) == 0
    library = pipeline.sample([7, 8, 9], pipeline.options(scheduler=scheduler, steps=steps))
    expected = library_notes(library, 1)
    assert len(expected) > 10
    for folder in ("a", "b", "c"):
        assert notes_of((tmp_path / folder / "sample_0008.mid").read_bytes()) == expected, folder
    # the bundle's own MIDI bytes, written as they come
    assert (tmp_path / "a" / "sample_0008.mid").read_bytes() == (tmp_path / "b" / "sample_0008.mid").read_bytes()
    np.testing.assert_allclose(np.load(tmp_path / "latents.npy"), library.latents[:2], atol=2e-5)


def test_defaults_are_the_same_on_every_path(tiny, tmp_path, capsys):
    vae, run, bundle, pipeline = tiny
    assert cli.main(["sample", "--model", str(bundle), "--num", "1", "--seed", "3", "--out", str(tmp_path / "a"),
                     "--no-progress"]) == 0
    assert "(ddpm, 20 steps, temperature 0)" in capsys.readouterr().out
    assert cli.main(["sample", "--checkpoint", str(run), "--vae", str(vae), "--num", "1", "--seed", "3", "--out",
                     str(tmp_path / "b"), "--no-progress"]) == 0
    assert "(ddpm, 20 steps, temperature 0)" in capsys.readouterr().out
    assert notes_of((tmp_path / "a" / "sample_0003.mid").read_bytes()) == library_notes(pipeline.sample([3]), 0)
    assert notes_of((tmp_path / "b" / "sample_0003.mid").read_bytes()) == library_notes(pipeline.sample([3]), 0)


@pytest.mark.parametrize("path", ["bundle", "run"])
@pytest.mark.parametrize("extra, message", [
    (["--steps", "0"], "--steps 0: expected 1..20"),
    (["--steps", "21"], "--steps 21: expected 1..20"),
    (["--temperature", "-1"], "--temperature -1: expected a finite number >= 0"),
    (["--scheduler", "ddpm", "--eta", "0.5"], "--eta 0.5: the ddpm scheduler has no eta"),
    (["--scheduler", "dpm-solver++", "--eta", "0.5"], "--eta 0.5: the dpm-solver++ scheduler has no eta"),
    (["--intermediates", "3"], "--intermediates: only for latents"),
])
def test_an_option_a_path_cannot_honour_is_one_line_exit_1(tiny, tmp_path, capsys, path, extra, message):
    vae, run, bundle, _ = tiny
    model = ["--model", str(bundle)] if path == "bundle" else ["--checkpoint", str(run), "--vae", str(vae)]
    assert cli.main(["sample", *model, "--num", "1", "--out", str(tmp_path / "x"), "--no-progress", *extra]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("argv, message", [
    (["sample", "--model", "BUNDLE", "--precision", "bfloat16"], "--precision: only with --checkpoint RUN"),
    (["sample", "--model", "BUNDLE", "--vae", "VAE"], "--vae: only with --checkpoint RUN"),
    (["sample", "--checkpoint", "RUN", "--out", "x.npy", "--temperature", "0.5"], "--temperature: the decoder's"),
    (["sample", "--checkpoint", "RUN", "--out", "x.npy", "--scheduler", "ddpm", "--eta", "1"],
     "--eta 1: the ddpm scheduler has no eta"),
    (["infill", "SONG", "--bars", "3-4", "--keep", "0-3", "--model", "BUNDLE"], "--keep: only with --template"),
    (["infill", "--template", "x.npy", "--checkpoint", "RUN", "--vae", "VAE"], "--vae: not with --template"),
    (["sample", "--model", "MISSING"], "no SavedModel bundle"),
])
def test_options_of_another_path_are_refused(tiny, tmp_path, pop909_dir, capsys, argv, message):
    vae, run, bundle, _ = tiny
    names = {"BUNDLE": str(bundle), "VAE": str(vae), "RUN": str(run), "SONG": str(pop909_dir / "002.mid"),
             "MISSING": str(tmp_path), "x.npy": str(tmp_path / "x.npy")}
    argv = [names.get(a, a) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_the_bundles_own_checks_reach_the_user_as_one_line(tiny):
    import tensorflow as tf

    _, _, bundle, _ = tiny
    loaded = tf.saved_model.load(str(model_dir(bundle)))
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        loaded.signatures["sample"](seeds=tf.constant([1]), scheduler=tf.constant("ddim"), steps=tf.constant(0),
                                    eta=tf.constant(0.0), temperature=tf.constant(0.0))
    assert bundle_message(caught.value) == "steps: expected 1..20 (the model's schedule); got 0"


def test_the_shipped_model_makes_music(tmp_path, capsys):
    assert cli.main(["sample", "--num", "2", "--seed", "1", "--scheduler", "dpm-solver++", "--steps", "8",
                     "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "saved_models/default/" in out and "dpm-solver++, 8 steps" in out
    for seed in (1, 2):
        assert len(notes_of((tmp_path / f"sample_{seed:04d}.mid").read_bytes())) > 50
