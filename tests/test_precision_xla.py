"""GPU-ready training options, run on the CPU: `train.mixed_precision: float16` (dynamic loss scaling, overflowed
steps skipped and counted) and `train.jit_compile: true` (XLA), each against float32 over 20 steps.

Tolerances (tiny diffusion config, synthetic data, global batch 8, the same batches and noise in every run), about
10x what was measured on an AMD EPYC (Zen 4) on 2026-12-05: XLA every step's loss within 1e-5 relative of float32
(measured: at most 1.2e-7; XLA fuses and reorders float32 sums), float16 within 1e-3 (measured: at most 9.6e-5).
"""
import numpy as np
import pytest
import tensorflow as tf

from symdiff_tf.data.sources import open_windows
from symdiff_tf.paths import REPO_ROOT
from symdiff_tf.training.loop import train
from symdiff_tf.training.registry import get_spec, load_model_config

TINY = str(REPO_ROOT / "configs" / "tiny.yaml")
STEPS = 20
XLA_TOLERANCE = 1e-5
FLOAT16_TOLERANCE = 1e-3


def run(workdir, overrides=(), windows=None):
    config = load_model_config("ddpm", TINY, ["ddpm.train.sample_every=0", "ddpm.train.eval_every=0",
                                              f"ddpm.train.checkpoint_every={STEPS}", *overrides])
    windows = open_windows("synthetic:100:8") if windows is None else windows
    return train(lambda: get_spec("ddpm").build_task(config), windows, config.train, workdir, max_steps=STEPS,
                 progress=False)


@pytest.fixture(scope="module")
def float32_losses(tmp_path_factory):
    history = run(tmp_path_factory.mktemp("float32"))
    assert [r["step"] for r in history] == list(range(1, STEPS + 1))
    return np.array([r["loss"] for r in history])


def test_xla_training_step_agrees_with_float32(float32_losses, tmp_path):
    losses = np.array([r["loss"] for r in run(tmp_path, ["ddpm.train.jit_compile=true"])])
    np.testing.assert_allclose(losses, float32_losses, rtol=XLA_TOLERANCE)


def test_float16_agrees_with_float32_and_counts_no_skipped_step(float32_losses, tmp_path):
    history = run(tmp_path, ["ddpm.train.mixed_precision=float16"])
    losses = np.array([r["loss"] for r in history])
    np.testing.assert_allclose(losses, float32_losses, rtol=FLOAT16_TOLERANCE)
    assert {r["skipped_steps"] for r in history} == {0} and history[-1]["loss_scale"] == 2.0 ** 15


def test_float16_overflow_skips_the_update_and_counts_it(tmp_path):
    """Windows of 60000 overflow float16 (max 65504) inside the network: every step is skipped, the weights stay,
    the loss scale halves each time, and the batches still count as consumed (a resume continues after them)."""
    huge = tf.data.Dataset.from_tensor_slices(np.full((16, 32, 8), 6e4, np.float32))
    history = run(tmp_path, ["ddpm.train.mixed_precision=float16"], windows=huge)
    assert [r["skipped_steps"] for r in history] == list(range(1, STEPS + 1))
    assert history[-1]["loss_scale"] == 2.0 ** (15 - STEPS)
    assert history[-1]["data_position"] == STEPS * 8
    again = run(tmp_path, ["ddpm.train.mixed_precision=float16"], windows=huge)
    assert again == []  # resumed at step 20 of 20: the skipped steps count as done
