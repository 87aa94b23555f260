"""TransformerMDN: size, causality, serialisation, the likelihood by hand, the sampler, and training through
the shared trainer (resume included)."""
import math
import os
import subprocess
import sys
import types

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from symdiff_tf.data.sources import synthetic_windows
from symdiff_tf.mdn import sampling
from symdiff_tf.mdn.config import MDNConfig, TransformerMDNConfig
from symdiff_tf.mdn.mixture import draw, mixture_distribution, negative_log_likelihood
from symdiff_tf.mdn.model import TransformerMDN, shift_right
from symdiff_tf.mdn.task import MDNTask
from symdiff_tf.paths import REPO_ROOT
from symdiff_tf.training.loop import train
from symdiff_tf.training.registry import get_spec, load_model_config

TINY = dict(latent_dim=3, sequence_length=6, model_dims=16, num_layers=2, num_heads=2, mlp_dims=32,
            num_mlp_layers=1, num_components=4)
CONFIGS = REPO_ROOT / "configs"


def tiny_model(**overrides):
    keras.utils.set_random_seed(0)
    return TransformerMDN(**{**TINY, **overrides})


def test_paper_config_has_the_paper_size():
    config = load_model_config("mdn", CONFIGS / "paper.yaml")
    assert config.model == TransformerMDNConfig()
    assert (config.train.batch_size, config.train.learning_rate, config.train.max_steps,
            config.train.lr_decay_steps, config.train.lr_decay_rate) == (128, 3e-4, 250000, 4000, 0.98)
    task = get_spec("mdn").build_task(config)
    assert task.model.count_params() == 38_050_484


@pytest.mark.parametrize("config_file", ["paper.yaml", "tiny.yaml", "cpu.yaml"])
def test_every_shipped_config_loads(config_file):
    config = load_model_config("mdn", CONFIGS / config_file)
    assert isinstance(config, MDNConfig) and config.model.num_components >= 1


def test_shift_right():
    windows = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    shifted = ops.convert_to_numpy(shift_right(windows))
    np.testing.assert_array_equal(shifted[:, 0], 0.0)
    np.testing.assert_array_equal(shifted[:, 1:], windows[:, :-1])


def test_outputs_and_causality():
    model = tiny_model()
    x = np.random.default_rng(0).normal(size=(2, 6, 3)).astype(np.float32)
    params = model(x)
    assert params["logits"].shape == (2, 6, 4)
    assert params["means"].shape == params["log_scales"].shape == (2, 6, 4, 3)
    changed = x.copy()
    changed[:, 4:] += 5.0
    params_changed = model(changed)
    for name in params:
        np.testing.assert_allclose(params[name][:, :4], params_changed[name][:, :4], atol=1e-5)
        assert not np.allclose(params[name][:, 4:], params_changed[name][:, 4:], atol=1e-3)


def test_keras_round_trip(tmp_path):
    model = tiny_model()
    x = np.random.default_rng(1).normal(size=(2, 6, 3)).astype(np.float32)
    path = tmp_path / "mdn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, TransformerMDN) and loaded.get_config() == model.get_config()
    for name, value in model(x).items():
        np.testing.assert_allclose(loaded(x)[name], value, atol=1e-6)


def _normal_log_density(x, mean, log_scale):
    return np.sum(-0.5 * ((x - mean) / np.exp(log_scale)) ** 2 - log_scale - 0.5 * math.log(2 * math.pi), -1)


@pytest.mark.parametrize("num_components", [1, 3])
def test_loss_by_hand(num_components):
    config = MDNConfig(model=TransformerMDNConfig(**{**TINY, "num_components": num_components}))
    keras.utils.set_random_seed(0)
    task = MDNTask(config)
    windows = np.random.default_rng(2).uniform(-1, 1, size=(2, 6, 3)).astype(np.float32)
    params = {k: ops.convert_to_numpy(v).astype(np.float64) for k, v in task.model(shift_right(windows)).items()}
    # −log Σ_k π_k N(x; μ_k, σ_k²), σ_k = exp(log_scales_k), π = softmax(logits); for K = 1 the plain Gaussian.
    log_weights = params["logits"] - np.log(np.exp(params["logits"]).sum(-1, keepdims=True))
    log_joint = log_weights + _normal_log_density(windows[:, :, None, :], params["means"], params["log_scales"])
    nll = -np.log(np.exp(log_joint).sum(-1))
    if num_components == 1:
        np.testing.assert_allclose(
            nll, -_normal_log_density(windows, params["means"][:, :, 0], params["log_scales"][:, :, 0]), rtol=1e-12)
    per_example = task.per_example_loss({"window": tf.constant(windows)}, training=False)
    np.testing.assert_allclose(per_example, nll.mean(-1), rtol=1e-5)
    np.testing.assert_allclose(negative_log_likelihood(params, windows), nll, rtol=1e-5)


def test_temperature_scales_weights_and_spreads():
    params = {"logits": tf.constant([[0.0, math.log(3.0)]]), "means": tf.zeros([1, 2, 1]),
              "log_scales": tf.fill([1, 2, 1], math.log(2.0))}
    cold = mixture_distribution(params, temperature=0.5)
    np.testing.assert_allclose(cold.mixture_distribution.probs_parameter(), [[0.1, 0.9]], rtol=1e-6)  # 1:9
    np.testing.assert_allclose(cold.components_distribution.stddev(), np.full((1, 2, 1), 2 * math.sqrt(0.5)),
                               rtol=1e-6)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_sampler_is_deterministic_and_seeded_per_melody(jit_compile):
    sampler = sampling.MDNSampler(tiny_model(), jit_compile=jit_compile)
    a = sampler([5, 6, 7])
    assert a.shape == (3, 6, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, sampler([5, 6, 7]))
    np.testing.assert_allclose(sampler([9, 6])[1], a[1], atol=1e-5)  # melody 6 is the same in another batch
    assert not np.allclose(a, sampler([8, 9, 10]))
    with pytest.raises(ValueError, match="temperature"):
        sampler([5], temperature=0.0)


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_draws_follow_the_mixture(temperature):
    """Weights 1:3 on components at −2 and +2 with std 0.5: the draws' component shares, means and spreads are
    the mixture's (at τ: weights softmax(logits / τ), std · √τ)."""
    params = {"logits": tf.constant([[0.0, math.log(3.0)]] * 4000), "means": tf.constant([[[-2.0], [2.0]]] * 4000),
              "log_scales": tf.fill([4000, 2, 1], math.log(0.5))}
    pairs = tf.stack([tf.range(4000, dtype=tf.int64), tf.zeros(4000, tf.int64)], axis=1)
    z = draw(params, temperature, pairs, 0).numpy()[:, 0]
    weight = 3.0 ** (1.0 / temperature) / (1.0 + 3.0 ** (1.0 / temperature))
    assert abs((z > 0).mean() - weight) < 0.02
    for side, centre in ((z > 0, 2.0), (z < 0, -2.0)):
        assert abs(z[side].mean() - centre) < 0.05
        assert abs(z[side].std() / (0.5 * math.sqrt(temperature)) - 1.0) < 0.08


def test_cold_samples_are_the_conditioned_modes():
    # At τ → 0 each draw is the mean of its most likely component given the *returned* earlier values.
    model = tiny_model()
    samples = sampling.sample(model, [0, 1, 2, 3], temperature=1e-8)
    params = {k: ops.convert_to_numpy(v) for k, v in model(shift_right(samples)).items()}
    best = params["logits"].argmax(-1)
    modes = np.take_along_axis(params["means"], best[..., None, None], axis=2)[:, :, 0]
    np.testing.assert_allclose(samples, modes, atol=1e-3)


@keras.saving.register_keras_serializable(package="test_mdn")
class PlusOrMinusOne(keras.layers.Layer):
    """A 2-component mixture around the previous value ± 1 with a tiny spread: z_i = z_{i−1} ± 1."""

    def call(self, shifted):
        means = ops.stack([shifted + 1.0, shifted - 1.0], axis=2)
        return {"logits": ops.zeros_like(means[..., 0]), "means": means, "log_scales": ops.full_like(means, -12.0)}


def test_sampler_returns_the_values_later_positions_were_conditioned_on():
    # The "encoder" passes the shifted values through; the head centres position i on the value before it.
    shifted, features = keras.Input((32, 1)), keras.Input((None, 1))
    model = types.SimpleNamespace(sequence_length=32, latent_dim=1, sequence_encoder=keras.Model(shifted, shifted),
                                  position_head=keras.Model(features, PlusOrMinusOne()(features)))
    sampler = sampling.MDNSampler(model)
    steps = np.diff(sampler(np.arange(64))[..., 0], axis=1, prepend=0.0)
    np.testing.assert_allclose(np.abs(steps), 1.0, atol=1e-4)  # each value is its predecessor ± 1
    # The original's redrawn array: position j is a fresh ±1 around the *conditioned* z_{j−1}, so neighbours
    # can differ by 3.
    original_steps = np.diff(sampler(np.arange(64), return_values="original")[..., 0], axis=1)
    assert np.any(np.abs(np.abs(original_steps) - 3.0) < 1e-3)


def _train_tiny(workdir, max_steps, config):
    windows = tf.data.Dataset.from_tensor_slices(synthetic_windows(40, latent_dim=8))
    return train(lambda: MDNTask(config), windows, config.train, workdir, max_steps=max_steps, progress=False)


def test_trains_through_the_shared_trainer_and_resumes(tmp_path):
    config = load_model_config("mdn", CONFIGS / "tiny.yaml", ["mdn.train.sample_every=0", "mdn.train.eval_every=0"])
    straight = _train_tiny(tmp_path / "straight", 4, config)
    first = _train_tiny(tmp_path / "resumed", 2, config)  # "killed" after the checkpoint at step 2
    second = _train_tiny(tmp_path / "resumed", 4, config)
    assert [r["step"] for r in straight] == [1, 2, 3, 4]
    assert [r["step"] for r in second] == [3, 4]
    np.testing.assert_allclose([r["loss"] for r in first + second], [r["loss"] for r in straight], rtol=1e-5)
    assert all(np.isfinite(r["loss"]) for r in straight)


def test_train_command_with_a_mirrored_strategy(tmp_path):
    # A fresh process: the CPU must be split into 2 logical devices before TensorFlow starts. It goes through
    # the real command line, so the test sees every option the parser sets.
    command = [sys.executable, "-m", "symdiff_tf.cli", "train", "--config", str(CONFIGS / "tiny.yaml"),
               "--data", "synthetic:32:8", "--model", "mdn", "--strategy", "mirrored", "--cpu-devices", "2",
               "--workdir", str(tmp_path), "--max-steps", "3", "--set", "mdn.train.sample_every=3", "--no-progress"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
                            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "step 3 loss" in result.stdout
    assert "2 replica(s)" in result.stderr
    assert (tmp_path / "checkpoints" / "checkpoint").is_file()
