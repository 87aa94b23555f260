"""The diffusion model: layers, TransformerDDPM, schedule, training loss, the reverse loop with the trained network
(tiny configs, fast; the schedulers against closed forms: test_schedulers.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from symdiff_tf.config import from_dict, load_yaml
from symdiff_tf.data.sources import synthetic_windows
from symdiff_tf.diffusion.config import DDPMConfig
from symdiff_tf.diffusion.model import TransformerDDPM
from symdiff_tf.diffusion import reverse, schedulers
from symdiff_tf.diffusion.inference import make_sampler
from symdiff_tf.diffusion.schedule import LinearSchedule
from symdiff_tf.diffusion.task import DDPMTask
from symdiff_tf.models_common import layers
from symdiff_tf.paths import REPO_ROOT

CONFIGS = REPO_ROOT / "configs"


def tiny_config() -> DDPMConfig:
    return from_dict(DDPMConfig, load_yaml(CONFIGS / "tiny.yaml")["ddpm"], "tiny.yaml:ddpm")


@pytest.fixture(scope="module")
def tiny_task():
    keras.utils.set_random_seed(0)
    return DDPMTask(tiny_config())


def test_paper_config_has_the_papers_parameter_count(capsys):
    from symdiff_tf import cli
    assert cli.main(["describe", "--config", str(CONFIGS / "paper.yaml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "ddpm params=25579946" in lines


@pytest.mark.parametrize("name", ["tiny.yaml", "cpu.yaml"])
def test_every_shipped_config_builds(name):
    config = from_dict(DDPMConfig, load_yaml(CONFIGS / name)["ddpm"], name)
    model = DDPMTask(config).model
    out = model([np.zeros((2, 32, config.model.latent_dim), np.float32), np.array([0.3, 0.9], np.float32)])
    assert out.shape == (2, 32, config.model.latent_dim)


def _round_trip(model, inputs, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(model(inputs), loaded(inputs), rtol=1e-6, atol=1e-6)
    return loaded


def test_transformer_ddpm_keras_round_trip(tiny_task, tmp_path):
    inputs = [np.random.default_rng(0).standard_normal((2, 32, 8)).astype(np.float32),
              np.array([0.2, 0.7], np.float32)]
    loaded = _round_trip(tiny_task.model, inputs, tmp_path)
    assert loaded.get_config() == tiny_task.model.get_config()


@pytest.mark.parametrize("make_layer", [
    lambda: layers.TransformerEncoderBlock(2, 32, name="block"),
    lambda: layers.TransformerEncoderBlock(2, 32, causal=True, name="causal_block"),
    lambda: layers.PositionalEncoding(name="positions"),
    lambda: layers.DenseResBlock(16, name="residual"),
])
def test_sequence_layers_round_trip(make_layer, tmp_path):
    keras.utils.set_random_seed(1)
    x = keras.Input((32, 16))
    model = keras.Model(x, make_layer()(x))
    loaded = _round_trip(model, np.random.default_rng(1).standard_normal((2, 32, 16)).astype(np.float32), tmp_path)
    assert loaded.layers[1].get_config() == model.layers[1].get_config()


def test_film_layers_round_trip(tmp_path):
    keras.utils.set_random_seed(2)
    x, level = keras.Input((32, 16)), keras.Input(())
    scale, shift = layers.DenseFiLM(16, 8, name="film")(level)
    out = layers.DenseResBlock(16, name="residual")(x, scale, shift)
    model = keras.Model([x, level], [out, layers.NoiseLevelEncoding(8, name="encoding")(level)])
    inputs = [np.random.default_rng(2).standard_normal((2, 32, 16)).astype(np.float32),
              np.array([0.1, 0.95], np.float32)]
    path = tmp_path / "film.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    for expected, actual in zip(model(inputs), loaded(inputs)):
        np.testing.assert_allclose(expected, actual, rtol=1e-6, atol=1e-6)


def test_sinusoids_follow_the_original_formula():
    encoding = layers.NoiseLevelEncoding(8)(np.array([0.5], np.float32)).numpy()[0]
    frequencies = np.exp(-np.arange(4) * np.log(10000.0) / 3)
    expected = np.concatenate([np.sin(2500 * frequencies), np.cos(2500 * frequencies)])
    np.testing.assert_allclose(encoding, expected, rtol=1e-3, atol=1e-3)


def test_flat_dense_equals_keras_dense():
    keras.utils.set_random_seed(5)
    flat = layers.dense(24, "flat", activation=layers.gelu_tanh)
    x = np.random.default_rng(5).standard_normal((3, 7, 16)).astype(np.float32)
    out = flat(x).numpy()
    reference = keras.layers.Dense(24, activation=layers.gelu_tanh)
    reference.build(x.shape)
    reference.set_weights(flat.get_weights())
    np.testing.assert_allclose(out, reference(x).numpy(), rtol=1e-6, atol=1e-6)
    assert out.shape == (3, 7, 24)


@pytest.mark.parametrize("film", [True, False])
def test_residual_block_is_the_textbook_formula(film):
    """The block folds LayerNorm's affine into FiLM's; it must equal LN → scale·h + shift → silu → Dense, twice."""
    keras.utils.set_random_seed(6)
    rng = np.random.default_rng(6)
    block = layers.DenseResBlock(16)
    x = rng.standard_normal((2, 5, 16)).astype(np.float32) * 3 + 1
    scale, shift = ((rng.standard_normal((2, 1, 16)).astype(np.float32) for _ in range(2)) if film
                    else (None, None))
    block.build(x.shape)
    for norm in (block.norm_1, block.norm_2):  # non-trivial γ, β
        norm.set_weights([rng.standard_normal(16).astype(np.float32) for _ in range(2)])

    def textbook(h, norm, dense):
        h = norm(h)
        if film:
            h = scale * h + shift
        return dense(keras.ops.silu(h))

    expected = x + textbook(textbook(x, block.norm_1, block.dense_1), block.norm_2, block.dense_2)
    np.testing.assert_allclose(block(x, scale, shift), expected, rtol=1e-5, atol=1e-5)


def test_causal_attention_ignores_the_future():
    keras.utils.set_random_seed(3)
    block = layers.TransformerEncoderBlock(2, 32, causal=True)
    x = np.random.default_rng(3).standard_normal((1, 32, 16)).astype(np.float32)
    changed = x.copy()
    changed[:, 20:] += 1.0
    a, b = block(x).numpy(), block(changed).numpy()
    np.testing.assert_allclose(a[:, :20], b[:, :20], rtol=1e-5, atol=1e-5)
    assert np.abs(a[:, 20:] - b[:, 20:]).max() > 1e-3


def test_noise_encoding_stays_float32_under_bfloat16():
    keras.utils.set_random_seed(4)
    level = np.array([0.9137, 0.9141], np.float32)  # close levels: bfloat16 would merge them
    film32 = layers.DenseFiLM(16, 8)
    scale32, _ = film32(level)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        film16 = layers.DenseFiLM(16, 8)
        film16.build((None,))
        film16.set_weights(film32.get_weights())
        scale16, _ = film16(level)
    finally:
        keras.config.set_dtype_policy("float32")
    assert scale16.dtype == "float32"
    np.testing.assert_allclose(scale16, scale32, rtol=1e-6, atol=1e-6)


def test_schedule_matches_the_original_values():
    schedule = LinearSchedule()
    assert schedule.alpha_bars[0] == 1.0
    assert schedule.alpha_bars[1] == pytest.approx(0.999999, abs=1e-9)
    assert schedule.alpha_bars[1000] == pytest.approx(0.006623, abs=5e-7)
    assert np.sqrt(schedule.alpha_bars[1000]) == pytest.approx(0.0814, abs=5e-5)
    assert np.sqrt(schedule.alpha_bars[500]) == pytest.approx(0.535, abs=5e-4)


@pytest.mark.parametrize("sampling", ["alpha_bar", "sqrt_alpha_bar"])
def test_noise_levels_lie_in_their_step_and_cover_the_range(sampling):
    schedule = LinearSchedule(noise_level_sampling=sampling)
    levels = tf.stack([schedule.sample_noise_level(tf.constant([7, i], tf.int64)) for i in range(400)]).numpy()
    assert levels.dtype == np.float32
    assert levels.min() >= np.sqrt(schedule.alpha_bars[-1]) - 1e-6 and levels.max() <= 1.0
    assert levels.min() < 0.2 and levels.max() > 0.9


def test_training_loss_is_deterministic_per_example(tiny_task):
    window = tf.constant(np.random.default_rng(5).uniform(-1, 1, (32, 8)), tf.float32)
    features = [tiny_task.prepare_example(window, tf.constant([0, i], tf.int64)) for i in (3, 3, 4)]
    assert np.array_equal(features[0]["noise"], features[1]["noise"])
    assert not np.array_equal(features[0]["noise"], features[2]["noise"])
    batch = {key: tf.stack([f[key] for f in features]) for key in features[0]}
    loss = tiny_task.per_example_loss(batch, training=False).numpy()
    assert loss.shape == (3,) and loss[0] == loss[1] and loss[0] != loss[2]


@pytest.fixture(scope="module")
def sampler(tiny_task):
    return make_sampler(tiny_task.model, tiny_task.config)


def test_ddpm_is_seeded_deterministic_and_in_range(sampler, tiny_task):
    a = sampler.sample([11, 12, 13], "ddpm")
    b = sampler.sample([11, 12, 13], "ddpm")
    c = sampler.sample([12, 13, 14], "ddpm")
    assert a.shape == (3, 32, 8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    np.testing.assert_allclose(a[1:], c[:2], atol=2e-5)  # one seed per window, whatever the batch
    assert a.min() >= -1.0 and a.max() <= 1.0  # original form: x0 is clipped
    paper = sampler.sample([11, 12, 13], schedulers.DDPM(tiny_task.schedule, form="paper"))
    assert np.abs(paper).max() > 1.0  # Algorithm 3 does not clip (an untrained net gives large values)


def test_ddim_with_all_steps_and_eta_one_is_ddpm(sampler, tiny_task):
    ddpm = sampler.sample([5, 6], schedulers.DDPM(tiny_task.schedule, form="paper"))
    ddim = sampler.sample([5, 6], schedulers.DDIM(tiny_task.schedule, eta=1.0, clip_denoised=False),
                          tiny_task.schedule.num_steps)
    np.testing.assert_allclose(ddim, ddpm, rtol=1e-4, atol=1e-4)


def test_intermediate_states_are_the_loop_stopped_early(sampler):
    assert list(np.asarray(schedulers.spaced_timesteps(5, 20))) == [20, 15, 10, 6, 1]
    a, states = sampler.sample([3, 4], "ddim", 7, num_intermediates=3)
    assert a.shape == (2, 32, 8) and states.shape == (3, 2, 32, 8)
    np.testing.assert_array_equal(states[-1], a)
    np.testing.assert_array_equal(sampler.sample([3, 4], "ddim", 7), a)
    steps = reverse.recorded_iterations(7, 3)
    assert list(steps) == [3, 5, 7]
    # the first recorded state is the loop over the first 3 of the 7 steps
    scheduler = sampler.scheduler("ddim")
    pairs = tf.constant([[3, 0], [4, 0]], tf.int64)
    timesteps = scheduler.timesteps(7)
    x = sampler.start(pairs, scheduler, timesteps[0])
    x, _, _ = sampler.run_span(x, scheduler.initial_state(x), tf.zeros([1]), pairs, scheduler, timesteps, 0, 3)
    np.testing.assert_allclose(states[0], x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("options", [{}, {"uniform_start": True, "template_at_current_step": True}])
@pytest.mark.parametrize("name", schedulers.NAMES)
def test_infill_keeps_the_known_chunks(sampler, options, name):
    template = np.random.default_rng(6).uniform(-1, 1, (2, 32, 8)).astype(np.float32)
    mask = np.zeros((2, 32), np.float32)
    mask[0, [0, 1, 2, 30, 31]] = 1.0
    mask[1, 10:20] = 1.0
    filled, states = sampler.infill(template, mask, [9, 10], name, 6, num_intermediates=4, **options)
    known = mask.astype(bool)
    np.testing.assert_array_equal(filled[known], template[known])
    assert np.abs(filled[~known] - template[~known]).mean() > 0.05
    assert states.shape == (4, 2, 32, 8)
    np.testing.assert_array_equal(sampler.infill(template, mask, [9, 10], name, 6, **options), filled)
    assert not np.array_equal(sampler.infill(template, mask, [9, 11], name, 6, **options)[1], filled[1])


@pytest.mark.parametrize("original", [False, True])
def test_infill_with_ddim_eta_one_over_all_steps_is_ddpm_infill(sampler, tiny_task, original):
    template = np.random.default_rng(6).uniform(-1, 1, (2, 32, 8)).astype(np.float32)
    mask = np.zeros(32, np.float32)
    mask[[0, 1, 2, 20, 31]] = 1.0
    options = {"uniform_start": original, "template_at_current_step": original}
    ddpm = sampler.infill(template, mask, [5, 6], schedulers.DDPM(tiny_task.schedule, form="paper"), **options)
    eta_one = schedulers.DDIM(tiny_task.schedule, eta=1.0, clip_denoised=False)
    ddim = sampler.infill(template, mask, [5, 6], eta_one, tiny_task.schedule.num_steps, **options)
    np.testing.assert_allclose(ddim, ddpm, rtol=1e-4, atol=1e-4)


def test_xla_sampler_is_deterministic(tiny_task):
    xla = make_sampler(tiny_task.model, tiny_task.config, jit_compile=True)
    a = xla.sample([1, 2], "ddim", 4)
    np.testing.assert_array_equal(xla.sample([1, 2], "ddim", 4), a)
    assert not np.array_equal(xla.sample([2, 3], "ddim", 4), a)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_progress_runs_the_same_steps_in_spans(tiny_task, monkeypatch, jit_compile):
    """With a `progress` callback the compiled loop runs in spans (here one step each, the most boundaries):
    the callback sees every step once, in order, and the samples and recorded states are those of one call."""
    sampler = make_sampler(tiny_task.model, tiny_task.config, jit_compile=jit_compile)
    num_steps = tiny_task.schedule.num_steps
    whole_x, whole_states = sampler.sample([4, 5], "ddpm", num_intermediates=3)
    monkeypatch.setattr(reverse, "PROGRESS_SPAN_SECONDS", 0.0)
    calls = []
    x, states = sampler.sample([4, 5], "ddpm", num_intermediates=3,
                               progress=lambda done, total: calls.append((done, total)))
    assert calls == [(done, num_steps) for done in range(1, num_steps + 1)]
    np.testing.assert_array_equal(x, whole_x)
    np.testing.assert_array_equal(states, whole_states)
    template = synthetic_windows(2, 8, seed=4)
    mask = np.ones(32, np.float32)
    mask[8:24] = 0.0
    calls.clear()
    filled = sampler.infill(template, mask, [3, 4], "dpm-solver++", 5,
                            progress=lambda done, total: calls.append((done, total)))
    assert calls == [(done, 5) for done in range(1, 6)]
    np.testing.assert_array_equal(filled, sampler.infill(template, mask, [3, 4], "dpm-solver++", 5))
