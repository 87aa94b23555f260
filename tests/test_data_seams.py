"""`--data tfds:...` end to end: `lakh_midi` built from the dummy MIDI, then `symdiff train` and `symdiff train-vae`
read it with no glue (the window settings from `--set latents.*`, the scaling saved beside the model)."""
import json

import numpy as np
import pytest
import yaml

from symdiff_tf import cli
from symdiff_tf.data.latent_config import LatentDataConfig, fixed_windows_config
from symdiff_tf.data.scaler import SCALER_FILENAME, LatentScaler
from symdiff_tf.data.sources import open_tfds_windows, opened_scaler
from symdiff_tf.musicvae.identity import vae_content_hash
from symdiff_tf.paths import REPO_ROOT
from tfds_lakh.lakh_midi_build_test import DUMMY, build_lakh_midi
from tfds_lakh.lakh_midi_dataset_builder_test import TINY_VAE_CONFIG, write_tiny_vae

TINY = str(REPO_ROOT / "configs" / "tiny.yaml")
# Long Song (36 chunks, rest at chunk 1) gives 16-chunk windows at starts 2..20; three latent dims kept
WINDOWS = ["--set", "latents.window_chunks=16", "--set", "latents.kept_dims=[0, 2, 5]",
           "--set", "ddpm.model.sequence_length=16", "--set", "ddpm.model.latent_dim=3"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """One data dir holding the `tokens` config and the tiny-VAE latent config of `lakh_midi`."""
    root = tmp_path_factory.mktemp("tfds")
    write_tiny_vae(TINY_VAE_CONFIG.vae)
    build_lakh_midi("tokens", root, DUMMY)
    build_lakh_midi(TINY_VAE_CONFIG, root, DUMMY)
    return root


def _train(spec, workdir, *extra):
    return cli.main(["train", "--config", TINY, "--data", spec, "--workdir", str(workdir), "--max-steps", "2",
                     "--no-progress", "--set", "ddpm.train.sample_every=0", *extra])


def last_error_line(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_train_reads_tfds_latents_and_saves_the_scaling(data_dir, tmp_path, capsys):
    spec = f"tfds:lakh_midi/{TINY_VAE_CONFIG.name}@{data_dir}"
    workdir = tmp_path / "ddpm"
    assert _train(spec, workdir, *WINDOWS) == 0
    assert list((workdir / "checkpoints").glob("ckpt-2.index"))
    saved = LatentScaler.load(workdir / SCALER_FILENAME)
    # the scaler of exactly these window settings (defaults would keep all 8 dims over 32-chunk windows)
    expected = opened_scaler(spec, LatentDataConfig(window_chunks=16, kept_dims=(0, 2, 5)))
    assert saved == expected and saved.kept_dims == (0, 2, 5) and saved.z_size == 8
    default = opened_scaler(spec)
    assert (default.minimum, default.maximum) != (saved.minimum, saved.maximum)
    resolved = yaml.safe_load((workdir / "config.yaml").read_text())
    assert resolved["latents"]["window_chunks"] == 16 and resolved["latents"]["kept_dims"] == [0, 2, 5]
    # the inference artifact carries the scaling and names the VAE the dataset recorded, by its weights
    artifact = workdir / "inference" / "step_2"
    assert LatentScaler.load(artifact / SCALER_FILENAME) == saved
    info = json.loads((artifact / "inference.json").read_text())
    assert info["vae_content_hash"] == vae_content_hash(TINY_VAE_CONFIG.vae) and len(info["vae_content_hash"]) == 16

    # resuming under other window settings would mix two scalings: refused before training
    capsys.readouterr()
    assert _train(spec, workdir, *WINDOWS[:2], "--set", "latents.kept_dims=[0, 2]", *WINDOWS[4:6],
                  "--set", "ddpm.model.latent_dim=2") == 1
    assert "this work directory was trained with other latent scaling" in last_error_line(capsys)
    # windows that do not fit the model are refused with both shapes named
    assert _train(spec, tmp_path / "other", "--set", "latents.window_chunks=16") == 1
    assert "[16, 8], the model expects [32, 8]" in last_error_line(capsys)


def test_train_vae_reads_tfds_tokens_without_rests(data_dir, tmp_path, capsys):
    import tensorflow_datasets as tfds

    from symdiff_tf.musicvae.data import load_token_chunks

    spec = f"tfds:lakh_midi/tokens@{data_dir}"
    chunks, skipped = load_token_chunks(spec, progress=False)
    train = list(tfds.as_numpy(tfds.builder("lakh_midi/tokens", data_dir=str(data_dir)).as_dataset(split="train")))
    expected = np.concatenate([ex["tokens"][~ex["rests"]] for ex in train])
    np.testing.assert_array_equal(chunks, expected)  # the train split's non-rest chunks, in order
    assert skipped == {"rest chunks": sum(int(ex["rests"].sum()) for ex in train)} and skipped["rest chunks"] > 0

    workdir = tmp_path / "vae"
    assert cli.main(["train-vae", "--config", "tiny-single", "--data", spec, "--workdir", str(workdir),
                     "--steps", "2", "--batch-size", "4", "--eval-fraction", "0.1", "--log-every", "1",
                     "--eval-every", "100", "--no-progress"]) == 0
    n_eval = round(len(expected) * 0.1)
    printed = capsys.readouterr().out
    assert f"{len(expected) - n_eval} train / {n_eval} eval chunks" in printed
    assert printed.strip().splitlines()[-1] == f"TensorBoard: tensorboard --logdir {workdir / 'tensorboard'}"
    assert (workdir / "model.keras").is_file()
    assert [json.loads(line)["step"] for line in (workdir / "train_log.jsonl").read_text().splitlines()][-1] == 2


@pytest.fixture(scope="module")
def two_split_spec(tmp_path_factory):
    """Latents (tiny VAE) of Long Song in train and a copy of it (one text event more) in validation, so that
    both splits hold 16-chunk windows (the dummy folder's validation split holds none)."""
    import hashlib
    import shutil

    import mido

    from tfds_lakh.lakh_midi_dataset_builder import make_config

    manual = tmp_path_factory.mktemp("manual")
    shutil.copy(DUMMY / "clean_midi" / "Artist A" / "Long Song.mid", manual / "Long Song.mid")
    percent = 45  # Long Song's content hash gives 49: train
    assert int(hashlib.md5((manual / "Long Song.mid").read_bytes()).hexdigest(), 16) % 100 >= percent
    for i in range(100):  # the first copy whose hash puts it in validation
        copy = mido.MidiFile(manual / "Long Song.mid")
        copy.tracks[0].insert(0, mido.MetaMessage("text", text=f"copy {i}", time=0))
        copy.save(manual / "Copy.mid")
        if int(hashlib.md5((manual / "Copy.mid").read_bytes()).hexdigest(), 16) % 100 < percent:
            break
    config = make_config(vae=TINY_VAE_CONFIG.vae, encode_batch_size=8, validation_percent=percent)
    write_tiny_vae(config.vae)
    root = tmp_path_factory.mktemp("tfds_two_splits")
    build_lakh_midi(config, root, manual)
    return f"tfds:lakh_midi/{config.name}@{root}"


def test_evaluate_makes_the_windows_the_models_were_trained_on(two_split_spec, tmp_path, capsys):
    """`symdiff evaluate` reads the `latents:` section of the diffusion model's config.yaml: 16-chunk windows of
    three dims here (the defaults would give 32-chunk windows of all 8 dims, which this model cannot take)."""
    import argparse

    from symdiff_tf.cli.commands import evaluate as evaluate_command
    from symdiff_tf.diffusion.inference import open_run

    spec = two_split_spec
    ddpm, mdn = tmp_path / "ddpm", tmp_path / "mdn"
    assert _train(spec, ddpm, *WINDOWS) == 0
    assert _train(spec, mdn, "--model", "mdn", *WINDOWS[:4], "--set", "mdn.model.sequence_length=16",
                  "--set", "mdn.model.latent_dim=3") == 0

    args = argparse.Namespace(diffusion=str(ddpm), diffusion_config=None, mdn=str(mdn), mdn_config=None,
                              data=spec, num_samples=4, seed=5, split="auto")
    diffusion = open_run(ddpm, with_scaler=False)
    evaluate_command.check_same_windows(diffusion, args)  # the MDN was trained on the same windows
    trained = diffusion.latents
    assert trained == LatentDataConfig(window_chunks=16, kept_dims=(0, 2, 5))
    train, test, scaler, split = evaluate_command.load_data(args, trained)
    assert split == "validation"  # the hash split has no test split
    assert train.shape == (4, 16, 3) and test.shape[1:] == (16, 3) and len(test) > 0
    assert scaler == LatentScaler.load(ddpm / SCALER_FILENAME)
    fixed = fixed_windows_config(trained)
    every_train_window = np.stack(list(open_tfds_windows(spec, "train", fixed).as_numpy_iterator()))
    for window in train:  # drawn from the trained windows, with the same scaling
        assert np.any(np.all(every_train_window == window, axis=(1, 2)))

    out = tmp_path / "out"
    assert cli.main(["evaluate", "--diffusion", str(ddpm), "--mdn", str(mdn), "--vae", TINY_VAE_CONFIG.vae,
                     "--data", spec, "--num-samples", "4", "--ddim-steps", "2", "--curve-points", "0",
                     "--pianorolls", "1", "--seed", "5", "--out", str(out), "--no-progress"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert (run["num_chunks"], run["kept_dims"], run["z_size"]) == (16, 3, 8)
    assert run["infill_gap_chunks"] == [4, 12]
    assert "mdn" in json.loads((out / "tables.json").read_text())["unconditional"]

    # an MDN trained on other windows is refused, naming the setting that differs
    other = yaml.safe_load((mdn / "config.yaml").read_text())
    other["latents"]["allow_rests"] = True
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(other))
    capsys.readouterr()
    assert cli.main(["evaluate", "--diffusion", str(ddpm), "--mdn", str(mdn), "--mdn-config",
                     str(tmp_path / "other.yaml"), "--vae", TINY_VAE_CONFIG.vae, "--data", spec,
                     "--num-samples", "4", "--out", str(tmp_path / "refused"), "--no-progress"]) == 1
    assert "different latents: settings (allow_rests: False vs True)" in last_error_line(capsys)
    assert not (tmp_path / "refused").exists()


def test_train_with_vae_logs_piano_rolls_of_the_samples(data_dir, tmp_path, capsys):
    """`symdiff train --vae FILE`: the periodic samples reach TensorBoard as decoded piano rolls (one row per
    sample, the figure of `save_pianoroll_grid`), not as latent heat maps `[k, chunks]`."""
    import tensorflow as tf

    spec = f"tfds:lakh_midi/{TINY_VAE_CONFIG.name}@{data_dir}"
    workdir = tmp_path / "ddpm"
    assert _train(spec, workdir, *WINDOWS, "--vae", TINY_VAE_CONFIG.vae, "--set", "ddpm.train.sample_every=2",
                  "--set", "ddpm.sampling.tensorboard_samples=2") == 0
    events = list((workdir / "tensorboard").glob("events.out.tfevents.*"))
    images = [(event.step, value.tensor.string_val) for path in events
              for event in tf.compat.v1.train.summary_iterator(str(path))
              for value in event.summary.value if value.tag == "samples"]
    assert [step for step, _ in images] == [2]
    width, height, *pngs = images[0][1]
    assert len(pngs) == 1 and len(pngs[0]) > 10_000  # one figure holding both samples
    picture = tf.io.decode_png(pngs[0]).numpy()
    # two rows of 2.8 in at 100 dpi; 16 chunks = 32 bars: 0.22 in per bar + 1.5 in wide
    assert picture.shape == (560, 854, 4) and (int(width), int(height)) == (854, 560)
    assert len(np.unique(picture.reshape(-1, 4), axis=0)) > 20  # axes, labels, grid lines: a drawn figure
    assert np.all(picture[..., :3] == (31, 119, 180), axis=-1).sum() > 100  # notes drawn (tab:blue boxes)

    assert capsys.readouterr().out.strip().splitlines()[-1] == \
        f"TensorBoard: tensorboard --logdir {workdir / 'tensorboard'}"
    # what TensorBoard itself reads from these files: the scalars and the piano-roll images
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator

    board = EventAccumulator(str(workdir / "tensorboard"))
    board.Reload()
    assert {"loss", "learning_rate", "grad_norm"} <= set(board.PluginTagToContent("scalars"))
    assert board.Tensors("loss")[-1].step == 2
    assert np.isfinite(tf.make_ndarray(board.Tensors("loss")[-1].tensor_proto))
    assert set(board.PluginTagToContent("images")) == {"samples"}
    shown = tf.make_ndarray(board.Tensors("samples")[0].tensor_proto)
    assert tf.io.decode_png(shown[2]).shape == picture.shape

    capsys.readouterr()
    assert _train("synthetic:32:3", tmp_path / "synthetic", *WINDOWS[4:], "--vae", TINY_VAE_CONFIG.vae) == 1
    assert last_error_line(capsys).startswith("symdiff train: --vae needs --data tfds")


def test_kept_top_k_and_a_latent_dim_that_follows_the_data(data_dir, tmp_path, capsys):
    from symdiff_tf.data.melody_latents import select_kept_dims

    assert select_kept_dims([0.9, 0.1, 1.2, 0.5], top_k=2).tolist() == [1, 3]
    assert select_kept_dims([0.9, 0.1, 1.2, 0.5], threshold=1.0).tolist() == [0, 1, 3]
    with pytest.raises(ValueError, match="kept_top_k=5"):
        select_kept_dims([0.9, 0.1, 1.2, 0.5], top_k=5)
    spec = f"tfds:lakh_midi/{TINY_VAE_CONFIG.name}@{data_dir}"
    workdir = tmp_path / "ddpm"
    assert _train(spec, workdir, "--set", "latents.window_chunks=16", "--set", "latents.kept_top_k=5",
                  "--set", "ddpm.model.sequence_length=16", "--set", "ddpm.model.latent_dim=0") == 0
    assert "model.latent_dim: 5, from the data" in capsys.readouterr().out
    resolved = yaml.safe_load((workdir / "config.yaml").read_text())
    assert resolved["ddpm"]["model"]["latent_dim"] == 5
    assert len(LatentScaler.load(workdir / SCALER_FILENAME).kept_dims) == 5
    # a config that says "from the data" samples from the run without a mismatch
    out = tmp_path / "s.npy"
    assert cli.main(["sample", "--checkpoint", str(workdir), "--num", "2", "--out", str(out), "--config", TINY,
                     "--set", "ddpm.model.sequence_length=16", "--set", "ddpm.model.latent_dim=0",
                     "--scheduler", "ddim", "--steps", "2"]) == 0
    assert np.load(out).shape == (2, 16, 5)


def test_kept_dims_report(data_dir, tmp_path, capsys):
    spec = f"tfds:lakh_midi/{TINY_VAE_CONFIG.name}@{data_dir}"
    out = tmp_path / "kept.json"
    assert cli.main(["kept-dims", "--vae", TINY_VAE_CONFIG.vae, "--data", spec, "--top-k", "2", "4",
                     "--max-chunks", "40", "--out", str(out)]) == 0
    rows = {row["rule"]: row for row in json.loads(out.read_text())["rows"]}
    assert rows["2 most used"]["kept"] == 2 and rows["4 most used"]["kept"] == 4 and rows["all"]["kept"] == 8
    for row in rows.values():
        assert 0.0 <= row["note_f1"] <= 1.0 and 0.0 <= row["token_accuracy"] <= 1.0
    assert "2 most used" in capsys.readouterr().out
    other = tmp_path / "other.keras"
    write_tiny_vae(other)
    assert cli.main(["kept-dims", "--vae", str(other), "--data", spec]) == 1


def test_training_with_another_vae_than_the_latents_stops(data_dir, tmp_path, capsys):
    spec = f"tfds:lakh_midi/{TINY_VAE_CONFIG.name}@{data_dir}"
    other = write_tiny_vae(tmp_path / "model.keras")  # another VAE's weights
    assert _train(spec, tmp_path / "a", *WINDOWS, "--vae", str(other)) == 1
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"content hash {vae_content_hash(other)}" in message and vae_content_hash(TINY_VAE_CONFIG.vae) in message
    assert _train(spec, tmp_path / "b", *WINDOWS, "--vae", str(other), "--allow-vae-mismatch") == 0
    assert "WARNING" in capsys.readouterr().err
    info = json.loads((tmp_path / "b" / "inference" / "step_2" / "inference.json").read_text())
    assert info["vae_content_hash"] == vae_content_hash(TINY_VAE_CONFIG.vae)  # the run names the latents' VAE


def test_a_replaced_vae_file_at_the_recorded_path_is_not_used(data_dir, tmp_path, capsys, monkeypatch):
    """Without --vae, training reads the VAE file the dataset names; another VAE saved there since the build is
    left aside with a warning naming the file, and the run records the latents' own VAE."""
    spec = f"tfds:lakh_midi/{TINY_VAE_CONFIG.name}@{data_dir}"
    replaced = write_tiny_vae(tmp_path / "model.keras")  # another VAE's weights at the recorded path
    monkeypatch.setattr("symdiff_tf.data.tfds_spec.recorded_vae_path", lambda _spec: str(replaced))
    assert _train(spec, tmp_path / "run", *WINDOWS) == 0
    warning = capsys.readouterr().err
    assert f"{replaced}, the MusicVAE file the latents of {spec} name, now holds another VAE" in warning
    info = json.loads((tmp_path / "run" / "inference" / "step_2" / "inference.json").read_text())
    assert info["vae_content_hash"] == vae_content_hash(TINY_VAE_CONFIG.vae)


def test_the_data_layer_reads_built_datasets_without_the_builder_code(data_dir):
    """In a fresh interpreter: a `tfds:` spec opens, its windows and recorded VAE are read, and `tfds_lakh` (which
    may import `symdiff_tf.data`, never the reverse) is not imported."""
    import subprocess
    import sys

    spec = f"tfds:lakh_midi/{TINY_VAE_CONFIG.name}@{data_dir}"
    script = (
        "import json, sys\n"
        "from symdiff_tf.data.sources import open_tfds_windows\n"
        "from symdiff_tf.data.tfds_spec import recorded_vae_hash\n"
        f"spec = {spec!r}\n"
        "windows = len(list(open_tfds_windows(spec, 'train')))\n"
        "print(json.dumps([windows, recorded_vae_hash(spec), sorted(m for m in sys.modules if 'tfds_lakh' in m)]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    windows, vae_hash, builder_modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert windows == 3 and vae_hash == vae_content_hash(TINY_VAE_CONFIG.vae) and builder_modules == []


def test_a_spec_that_was_not_built_names_the_folder(data_dir):
    from symdiff_tf.data.tfds_spec import open_builder

    with pytest.raises(ValueError, match=f"no built dataset in {data_dir}/lakh_midi/latents_0000"):
        open_builder(f"tfds:lakh_midi/latents_0000@{data_dir}")
    with pytest.raises(ValueError, match="no built dataset version 9.9.9"):
        open_builder(f"tfds:lakh_midi/tokens:9.9.9@{data_dir}")
    with pytest.raises(ValueError, match="expected tfds:NAME/CONFIG"):
        open_builder(f"tfds:lakh_midi@{data_dir}")
    assert str(open_builder(f"tfds:lakh_midi/tokens:1.0.0@{data_dir}").info.version) == "1.0.0"
