"""The training loop: distribution gives the same losses as one device, SIGKILL + rerun resumes exactly,
mixed precision and EMA work, and the sample/infill commands read the checkpoints (tiny config, few steps).

Distributed runs happen in child processes (logical CPU devices must be set before TensorFlow starts, and
MultiWorkerMirroredStrategy needs one process per worker); the single-device reference runs in this process.
Tolerance: losses agree to 1e-5 relative — summation order in the all-reduce is the only difference.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from symdiff_tf.config import to_dict
from symdiff_tf.data import open_windows
from symdiff_tf.models import get_spec, load_model_config
from symdiff_tf.paths import REPO_ROOT
from symdiff_tf.training import train

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
    from symdiff_tf.training import tf
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


def test_ema_weights_are_used_for_sampling(tmp_path):
    from symdiff_tf.training import load_for_inference
    overrides = ["ddpm.train.ema=true", "ddpm.train.ema_decay=0.5"]
    train_in_process(tmp_path, 4, overrides)
    config = load_model_config("ddpm", TINY, overrides)
    with_ema = load_for_inference(lambda: get_spec("ddpm").build_task(config), config.train, tmp_path)
    config.train.ema = False
    raw = load_for_inference(lambda: get_spec("ddpm").build_task(config), config.train, tmp_path)
    differences = [np.abs(a - b).max() for a, b in zip(with_ema.model.get_weights(), raw.model.get_weights())]
    assert max(differences) > 1e-5


def test_resolved_config_and_tensorboard_are_written(reference):
    workdir, _ = reference
    saved = yaml.safe_load((workdir / "config.yaml").read_text())
    assert saved["ddpm"]["train"]["batch_size"] == 8 and saved["ddpm"]["model"]["latent_dim"] == 8
    events = list((workdir / "tensorboard").glob("events.out.tfevents.*"))
    assert events
    from symdiff_tf.training import tf
    tags = {value.tag for path in events for event in tf.compat.v1.train.summary_iterator(str(path))
            for value in event.summary.value}
    assert {"loss", "learning_rate", "grad_norm"} <= tags


def test_sample_and_infill_commands_write_latents(reference, tmp_path):
    from symdiff_tf.cli import main
    workdir, _ = reference
    out = tmp_path / "samples.npy"
    assert main(["sample", "--config", TINY, "--checkpoint", str(workdir), "--num", "3", "--seed", "1",
                 "--out", str(out), "--intermediates", "2"]) == 0
    samples = np.load(out)
    assert samples.shape == (3, 32, 8) and np.abs(samples).max() <= 1.0
    assert np.load(tmp_path / "samples.states.npy").shape == (2, 3, 32, 8)
    assert main(["sample", "--config", TINY, "--checkpoint", str(workdir), "--num", "2", "--method", "ddim",
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
                 "--keep", "0-7,24-31", "--ddim-steps", "4", "--eta", "0.5", "--out", str(ddim_filled)]) == 0
    ddim_result = np.load(ddim_filled)
    np.testing.assert_array_equal(ddim_result[:, :8], samples[:, :8])
    np.testing.assert_array_equal(ddim_result[:, 24:], samples[:, 24:])
    assert np.abs(ddim_result[:, 8:24] - result[:, 8:24]).max() > 1e-3
    with pytest.raises(SystemExit, match="--ddim-steps"):
        main(["infill", "--config", TINY, "--checkpoint", str(workdir), "--template", str(out), "--eta", "1",
              "--out", str(ddim_filled)])


def test_bad_data_is_named_in_the_error(tmp_path):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 16, 8), np.float32))
    with pytest.raises(ValueError, match="bad.npy"):
        open_windows(str(bad))
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        open_windows(str(tmp_path / "missing.npy"))


@pytest.mark.parametrize("in_memory", [True, False])
def test_training_stream_resumes_mid_epoch_and_permutes_each_epoch(monkeypatch, in_memory):
    import tensorflow as tf

    from symdiff_tf import training
    if not in_memory:
        monkeypatch.setattr(training, "IN_MEMORY_LIMIT_BYTES", 0)  # force the shuffle-buffer path
    windows = tf.data.Dataset.from_tensor_slices(np.arange(10, dtype=np.float32)[:, None, None] * np.ones((1, 32, 2),
                                                                                                      np.float32))

    def first(start, count):
        stream = training.training_stream(windows, seed=3, start_index=start, shuffle_buffer=4)
        return [(int(i), int(w[0, 0])) for i, w in stream.take(count)]

    full = first(0, 30)
    assert [i for i, _ in full] == list(range(30))
    epochs = [[w for _, w in full[e * 10:(e + 1) * 10]] for e in range(3)]
    assert all(sorted(epoch) == list(range(10)) for epoch in epochs)  # every epoch is a permutation
    assert epochs[0] != epochs[1] and epochs[0] != list(range(10))
    assert first(13, 17) == full[13:]  # resume mid-epoch at exactly the same elements
