"""The training loop: distribution gives the same losses as one device, SIGKILL + rerun resumes exactly,
mixed precision and EMA work, the run directory is self-contained for inference (artifact, config, one-line
errors), and the sample/infill commands read it without importing the training code (tiny config, few steps).

Distributed runs happen in child processes (logical CPU devices must be set before TensorFlow starts, and
MultiWorkerMirroredStrategy needs one process per worker); the single-device reference runs in this process.
Tolerance: losses agree to 1e-5 relative — summation order in the all-reduce is the only difference.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
import yaml

from symdiff_tf.cli import main
from symdiff_tf.config import to_dict
from symdiff_tf.data.sources import open_windows
from symdiff_tf.paths import REPO_ROOT
from symdiff_tf.training.loop import train
from symdiff_tf.training.registry import get_spec, load_model_config

TINY = str(REPO_ROOT / "configs" / "tiny.yaml")
DATA = "synthetic:100:8"
STEPS = 6
QUIET = ["--set", "ddpm.train.sample_every=0", "--set", "ddpm.train.eval_every=0"]
LOSS_TOLERANCE = 1e-5


def train_in_process(workdir, max_steps, overrides=()):
    config = load_model_config("ddpm", TINY, list(overrides) + ["ddpm.train.sample_every=0",
                                                                 "ddpm.train.eval_every=0"])
    return train(lambda: get_spec("ddpm").build_task(config), open_windows(DATA), config.train, workdir,
                 max_steps=max_steps, progress=False, resolved_config={"ddpm": to_dict(config)}), config


def cli(*args):
    return [sys.executable, "-m", "symdiff_tf.cli", *args]


def child_env(**extra):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def read_log(workdir):
    path = workdir / "train_log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def assert_same_losses(records, reference):
    by_step = {r["step"]: r for r in reference}
    assert records, "no steps logged"
    for record in records:
        expected = by_step[record["step"]]
        assert record["data_position"] == expected["data_position"]
        assert record["loss"] == pytest.approx(expected["loss"], rel=LOSS_TOLERANCE)
        assert record["grad_norm"] == pytest.approx(expected["grad_norm"], rel=1e-4)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One device, global batch 8, seed 0: the losses every other run must reproduce."""
    workdir = tmp_path_factory.mktemp("reference")
    history, _ = train_in_process(workdir, 12)
    assert [r["step"] for r in history] == list(range(1, 13))
    assert history[-1]["loss"] < history[0]["loss"]
    return workdir, history


def test_mirrored_two_cpus_matches_one_device(reference, tmp_path):
    run = subprocess.run(cli("train", "--config", TINY, "--data", DATA, "--workdir", str(tmp_path),
                             "--strategy", "mirrored", "--cpu-devices", "2", "--max-steps", str(STEPS),
                             "--no-progress", *QUIET),
                         env=child_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "num_replicas: 2" in (tmp_path / "config.yaml").read_text()
    records = read_log(tmp_path)
    assert [r["step"] for r in records] == list(range(1, STEPS + 1))
    assert_same_losses(records, reference[1])


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_multi_worker_two_processes_matches_one_device(reference, tmp_path):
    workers = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(
            cli("train", "--config", TINY, "--data", DATA, "--workdir", str(tmp_path), "--strategy",
                "multi-worker", "--max-steps", str(STEPS), "--no-progress", *QUIET),
            env=child_env(TF_CONFIG=tf_config), cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True))
    try:
        outputs = [process.communicate(timeout=600) for process in processes]
    finally:
        for process in processes:
            process.kill()
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    assert "num_replicas: 2" in (tmp_path / "config.yaml").read_text()
    records = read_log(tmp_path)  # written by the chief only
    assert [r["step"] for r in records] == list(range(1, STEPS + 1))
    assert_same_losses(records, reference[1])
    assert not list(tmp_path.glob(".worker_*")), "the non-chief's scratch checkpoints were not removed"


def test_sigkill_then_rerun_resumes_at_the_same_step_and_data_position(reference, tmp_path):
    command = cli("train", "--config", TINY, "--data", DATA, "--workdir", str(tmp_path), "--no-progress",
                  "--set", "ddpm.train.checkpoint_every=2", *QUIET)
    victim = subprocess.Popen(command + ["--max-steps", "100000"], env=child_env(), cwd=REPO_ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    index_file = tmp_path / "checkpoints" / "ckpt-4.index"
    deadline = time.monotonic() + 300
    while not index_file.exists() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    before = read_log(tmp_path)
    killed_at = before[-1]["step"]
    assert killed_at >= 4
    assert_same_losses([r for r in before if r["step"] <= 12], reference[1])
    # The state file names the last complete checkpoint: ckpt-4 may have been cut off mid-write (then ckpt-2).
    resumed_from = int(tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).rsplit("-", 1)[1])
    assert 2 <= resumed_from <= killed_at

    # Resume up to 12 steps, or further if the victim got past step 12 before the kill (machine noise).
    target = max(12, resumed_from + 2)
    rerun = subprocess.run(command + ["--max-steps", str(target)], env=child_env(), cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"at step {resumed_from}, data position {resumed_from * 8}" in rerun.stderr
    after = read_log(tmp_path)[len(before):]
    assert [r["step"] for r in after] == list(range(resumed_from + 1, target + 1))
    assert after[0]["data_position"] == (resumed_from + 1) * 8
    if target == 12:
        assert_same_losses(after, reference[1])
    else:  # compare with the victim's own log for the steps both ran
        assert_same_losses([r for r in after if r["step"] <= killed_at], before)


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_mixed_precision_trains_close_to_float32(reference, tmp_path, precision):
    history, _ = train_in_process(tmp_path, 3, [f"ddpm.train.mixed_precision={precision}"])
    for record, expected in zip(history, reference[1][:3]):
        assert np.isfinite(record["loss"])
        assert record["loss"] == pytest.approx(expected["loss"], rel=0.05)


def test_resolved_config_and_tensorboard_are_written(reference):
    workdir, _ = reference
    saved = yaml.safe_load((workdir / "config.yaml").read_text())
    assert saved["ddpm"]["train"]["batch_size"] == 8 and saved["ddpm"]["model"]["latent_dim"] == 8
    events = list((workdir / "tensorboard").glob("events.out.tfevents.*"))
    assert events
    tags = {value.tag for path in events for event in tf.compat.v1.train.summary_iterator(str(path))
            for value in event.summary.value}
    assert {"loss", "learning_rate", "grad_norm"} <= tags


def test_sample_and_infill_commands_write_latents(reference, tmp_path, capsys):
    """The reference run has checkpoints and config.yaml but no inference artifact, as runs written before
    artifacts existed: the commands restore its model weights from the checkpoint."""
    workdir, _ = reference
    assert not (workdir / "inference").exists()
    out = tmp_path / "samples.npy"
    assert main(["sample", "--config", TINY, "--checkpoint", str(workdir), "--num", "3", "--seed", "1",
                 "--out", str(out), "--intermediates", "2"]) == 0
    samples = np.load(out)
    assert samples.shape == (3, 32, 8) and np.abs(samples).max() <= 1.0
    assert np.load(tmp_path / "samples.states.npy").shape == (2, 3, 32, 8)
    assert main(["sample", "--config", TINY, "--checkpoint", str(workdir), "--num", "2", "--scheduler", "ddim",
                 "--steps", "4", "--out", str(tmp_path / "ddim.npy")]) == 0
    filled = tmp_path / "filled.npy"
    assert main(["infill", "--config", TINY, "--checkpoint", str(workdir), "--template", str(out),
                 "--keep", "0-7,24-31", "--out", str(filled)]) == 0
    result = np.load(filled)
    np.testing.assert_array_equal(result[:, :8], samples[:, :8])
    np.testing.assert_array_equal(result[:, 24:], samples[:, 24:])
    assert np.abs(result[:, 8:24] - samples[:, 8:24]).max() > 1e-3
    ddim_filled = tmp_path / "ddim_filled.npy"
    assert main(["infill", "--config", TINY, "--checkpoint", str(workdir), "--template", str(out),
                 "--keep", "0-7,24-31", "--scheduler", "ddim", "--steps", "4", "--eta", "0.5",
                 "--out", str(ddim_filled)]) == 0
    ddim_result = np.load(ddim_filled)
    np.testing.assert_array_equal(ddim_result[:, :8], samples[:, :8])
    np.testing.assert_array_equal(ddim_result[:, 24:], samples[:, 24:])
    assert np.abs(ddim_result[:, 8:24] - result[:, 8:24]).max() > 1e-3
    capsys.readouterr()
    assert main(["infill", "--config", TINY, "--checkpoint", str(workdir), "--template", str(out), "--eta", "1",
                 "--out", str(ddim_filled)]) == 1  # the run's default scheduler (tiny.yaml: ddpm) has no eta
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "symdiff infill: --eta 1: the ddpm scheduler has no eta (only ddim)")


RUN_DIMS = 6  # not tiny.yaml's latent_dim (8): reading the run's own config is the only way to load it


@pytest.fixture(scope="module")
def run_directory(tmp_path_factory):
    """`symdiff train` with a `--set` override of the model size and EMA on: checkpoints at steps 2 and 4."""
    workdir = tmp_path_factory.mktemp("run")
    assert main(["train", "--config", TINY, "--data", f"synthetic:100:{RUN_DIMS}", "--workdir", str(workdir),
                 "--max-steps", "4", "--no-progress", "--set", f"ddpm.model.latent_dim={RUN_DIMS}",
                 "--set", "ddpm.train.ema=true", "--set", "ddpm.train.ema_decay=0.5", *QUIET]) == 0
    return workdir


def without_artifacts(run, destination):
    """A copy of `run` as runs were written before inference artifacts: config.yaml and checkpoints only."""
    shutil.copytree(run, destination, ignore=shutil.ignore_patterns("inference"))
    return destination


def test_every_kept_checkpoint_has_an_inference_artifact_with_the_ema_weights(run_directory, tmp_path):
    import keras

    from symdiff_tf.diffusion.inference import DDPM_NETWORK
    from symdiff_tf.models_common.loading import load_network, restore_network

    assert sorted(p.name for p in (run_directory / "inference").iterdir()) == ["step_2", "step_4"]
    artifact = run_directory / "inference" / "step_4"
    assert json.loads((artifact / "inference.json").read_text()) == {
        "model": "ddpm", "vae_content_hash": None, "ema": True, "step": 4}  # synthetic data: no VAE
    assert (artifact / "config.yaml").read_text() == (run_directory / "config.yaml").read_text()
    shipped = keras.saving.load_model(artifact / "model.keras")  # plain Keras, nothing of ours but the classes
    assert shipped.latent_dim == RUN_DIMS

    # the artifact holds the EMA weights: those a run without artifacts restores from its checkpoint's shadows
    old_style = load_network(DDPM_NETWORK, without_artifacts(run_directory, tmp_path / "old"))
    assert old_style.info == {}
    for shipped_weight, restored in zip(shipped.get_weights(), old_style.model.get_weights()):
        np.testing.assert_array_equal(shipped_weight, restored)
    raw = DDPM_NETWORK.build(old_style.config)
    restore_network(DDPM_NETWORK, raw, str(run_directory / "checkpoints" / "ckpt-4"), ema=False)
    differences = [np.abs(a - b).max() for a, b in zip(shipped.get_weights(), raw.get_weights())]
    assert max(differences) > 1e-5


def test_sample_and_infill_from_the_run_directory_alone(run_directory, tmp_path):
    out = tmp_path / "samples.npy"
    assert main(["sample", "--checkpoint", str(run_directory), "--num", "2", "--out", str(out)]) == 0
    samples = np.load(out)
    assert samples.shape == (2, 32, RUN_DIMS) and np.all(np.isfinite(samples))
    filled = tmp_path / "filled.npy"
    assert main(["infill", "--checkpoint", str(run_directory), "--template", str(out), "--keep", "0-7,24-31",
                 "--out", str(filled)]) == 0
    result = np.load(filled)
    np.testing.assert_array_equal(result[:, :8], samples[:, :8])
    assert np.abs(result[:, 8:24] - samples[:, 8:24]).max() > 1e-3
    # the same weights whichever way the run is named, and for a run without artifacts
    old = without_artifacts(run_directory, tmp_path / "old")
    for checkpoint in (run_directory / "inference" / "step_4", run_directory / "checkpoints" / "ckpt-4", old):
        again = tmp_path / f"again_{checkpoint.name}.npy"
        assert main(["sample", "--checkpoint", str(checkpoint), "--num", "2", "--out", str(again)]) == 0
        np.testing.assert_array_equal(np.load(again), samples)
    earlier = tmp_path / "earlier.npy"
    assert main(["sample", "--checkpoint", str(run_directory / "checkpoints" / "ckpt-2"), "--num", "2", "--out",
                 str(earlier)]) == 0
    assert np.abs(np.load(earlier) - samples).max() > 1e-4  # step 2's artifact, not the latest


def test_rerunning_train_on_a_run_without_artifacts_adds_one(reference, tmp_path):
    run = shutil.copytree(reference[0], tmp_path / "run")  # trained to step 12 before artifacts existed
    assert main(["train", "--config", TINY, "--data", DATA, "--workdir", str(run), "--max-steps", "12",
                 "--no-progress", *QUIET]) == 0
    assert [path.name for path in (run / "inference").iterdir()] == ["step_12"]
    assert json.loads((run / "inference" / "step_12" / "inference.json").read_text())["step"] == 12


@pytest.mark.parametrize("artifacts", [True, False])
@pytest.mark.parametrize("disagreeing", [["--set", "ddpm.model.latent_dim=42"], ["--config", TINY]])
def test_a_config_that_disagrees_with_the_weights_is_one_line(run_directory, tmp_path, artifacts, disagreeing,
                                                             capsys):
    run = run_directory if artifacts else without_artifacts(run_directory, tmp_path / "old")
    assert main(["sample", "--checkpoint", str(run), "--num", "1", "--out", str(tmp_path / "x.npy"),
                 *disagreeing]) == 1
    says = 42 if "--set" in disagreeing else 8
    assert capsys.readouterr().err.strip().splitlines() == [
        f"symdiff sample: ddpm.model.latent_dim: the run was trained with {RUN_DIMS}, the config says {says}"]


def _ours(modules):
    """Our modules among dotted module names (TensorFlow's own `tensorflow.python.training` is not ours)."""
    return [name for name in modules if name.split(".")[0] in ("symdiff_tf", "tfds_lakh")]


def test_sampling_imports_nothing_of_the_training_code(run_directory, tmp_path):
    """A fresh interpreter runs `symdiff sample` on the run; `-X importtime` lists the modules it imports (those
    imported by `import` statements), and `sys.modules` after the command also those of `importlib`."""
    sample = ["sample", "--checkpoint", str(run_directory), "--num", "1", "--out", str(tmp_path / "one.npy")]
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "symdiff_tf.cli", *sample],
                         env=child_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    imported = _ours(line.rsplit("|", 1)[1].strip() for line in run.stderr.splitlines()
                     if line.startswith("import time:"))
    assert "symdiff_tf.diffusion.inference" in imported and "symdiff_tf.models_common.loading" in imported
    assert [name for name in imported if "training" in name or "adam" in name] == []
    assert np.load(tmp_path / "one.npy").shape == (1, 32, RUN_DIMS)

    listing = subprocess.run([sys.executable, "-c", "import sys; from symdiff_tf.cli import main; "
                              f"main({sample!r}); print(*sys.modules, sep=chr(10))"],
                             env=child_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert listing.returncode == 0, listing.stderr[-3000:]
    loaded = _ours(listing.stdout.splitlines())
    assert "symdiff_tf.cli.commands.sample" in loaded
    assert [name for name in loaded if "training" in name or "adam" in name] == []


def test_bad_data_is_named_in_the_error(tmp_path):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 16, 8), np.float32))
    with pytest.raises(ValueError, match="bad.npy"):
        open_windows(str(bad))
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        open_windows(str(tmp_path / "missing.npy"))


@pytest.mark.parametrize("in_memory", [True, False])
def test_training_stream_resumes_mid_epoch_and_permutes_each_epoch(monkeypatch, in_memory):
    from symdiff_tf.data import stream
    if not in_memory:
        monkeypatch.setattr(stream, "IN_MEMORY_LIMIT_BYTES", 0)  # force the shuffle-buffer path
    windows = tf.data.Dataset.from_tensor_slices(np.arange(10, dtype=np.float32)[:, None, None] * np.ones((1, 32, 2),
                                                                                                      np.float32))

    def first(start, count):
        examples = stream.training_stream(windows, seed=3, start_index=start, shuffle_buffer=4)
        return [(int(i), int(w[0, 0])) for i, w in examples.take(count)]

    full = first(0, 30)
    assert [i for i, _ in full] == list(range(30))
    epochs = [[w for _, w in full[e * 10:(e + 1) * 10]] for e in range(3)]
    assert all(sorted(epoch) == list(range(10)) for epoch in epochs)  # every epoch is a permutation
    assert epochs[0] != epochs[1] and epochs[0] != list(range(10))
    assert first(13, 17) == full[13:]  # resume mid-epoch at exactly the same elements
