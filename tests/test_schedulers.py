"""The schedulers (`symdiff_tf.diffusion.schedulers`) against closed forms.

For Gaussian data x0 ~ N(μ, s²) the best noise predictor is known exactly:
E[ε | x_t] = √(1−ᾱ_t)·(x_t − √ᾱ_t·μ) / (ᾱ_t·s² + 1 − ᾱ_t). With it, every sampler must give samples with the
data's mean and variance; DDIM with eta 0 is deterministic; first-order DPM-Solver++ is DDIM with eta 0; and
infilling gives back the kept chunks' latents."""
import numpy as np
import pytest
import tensorflow as tf

from symdiff_tf.diffusion import schedulers
from symdiff_tf.diffusion.config import SamplingConfig
from symdiff_tf.diffusion.reverse import LatentSampler
from symdiff_tf.diffusion.schedule import LinearSchedule
from symdiff_tf.diffusion.schedulers.dpm_solver import log_snr, log_snr_timesteps

MEAN, STD = 0.3, 0.2
SCHEDULE = LinearSchedule(beta_start=1e-4, beta_end=0.01, num_steps=1000)  # ᾱ_N ≈ 0.007: x_N is nearly N(0, I)
WINDOW = (8, 2)


class ExactNoisePredictor:
    """A stand-in for the network: `([x [B, L, k], √ᾱ [B]]) → E[ε | x_t]` for N(MEAN, STD²) data."""

    inputs = [type("InputSpec", (), {"shape": (None, *WINDOW)})()]  # what LatentSampler reads of a Keras model

    def __call__(self, inputs, training=False):
        x, level = inputs
        alpha_bar = tf.square(level)[:, None, None]
        return tf.sqrt(1.0 - alpha_bar) * (x - tf.sqrt(alpha_bar) * MEAN) / (alpha_bar * STD ** 2 + 1.0 - alpha_bar)


def sampler():
    return LatentSampler(ExactNoisePredictor(), SCHEDULE, SamplingConfig(method="ddpm", ddim_steps=20))


def run(scheduler, seeds, steps, template=None, keep=None):
    """The reverse loop of `LatentSampler` with a scheduler object, compiled: scaled latents `[B, 8, 2]`."""
    latent = sampler()
    pairs = tf.stack([tf.constant(seeds, tf.int64), tf.zeros(len(seeds), tf.int64)], axis=1)
    keep_mask = None if keep is None else tf.constant(keep, tf.float32)[:, :, None]

    @tf.function
    def loop():
        timesteps = scheduler.timesteps(steps)
        x = latent.start(pairs, scheduler, timesteps[0], template, keep_mask)
        x, _, _ = latent.run_span(x, scheduler.initial_state(x), tf.zeros([1]), pairs, scheduler, timesteps, 0,
                                  tf.shape(timesteps)[0], template, keep_mask)
        return x

    return loop().numpy()


@pytest.mark.parametrize("scheduler, steps", [
    (schedulers.DDPM(SCHEDULE, form="paper"), 1000),
    (schedulers.DDPM(SCHEDULE), 1000),
    (schedulers.DDIM(SCHEDULE, eta=0.0, clip_denoised=False), 250),
    (schedulers.DDIM(SCHEDULE, eta=1.0, clip_denoised=False), 1000),
    (schedulers.DPMSolverPlusPlus(SCHEDULE, clip_denoised=False), 100),
])
def test_samples_have_the_datas_mean_and_variance(scheduler, steps):
    samples = run(scheduler, np.arange(300), steps)
    assert abs(samples.mean() - MEAN) < 0.015, samples.mean()
    assert abs(samples.std() / STD - 1.0) < 0.08, samples.std()


def test_dpm_solver_converges_at_second_order():
    """Error against a 1000-step solution on the same start noise: from 10 to 25 steps (log-SNR spaced) it falls by
    about 2.5² for DPM-Solver++(2M) (measured 5.2) and 2.5 for first order (measured 2.5). By 100 steps 2M is at
    float32's floor (9e-6)."""
    seeds = np.arange(64)
    solver = schedulers.DPMSolverPlusPlus(SCHEDULE, clip_denoised=False)
    first = schedulers.DPMSolverPlusPlus(SCHEDULE, clip_denoised=False, order=1)
    reference = run(solver, seeds, 1000)

    def error(scheduler, steps):
        return np.abs(run(scheduler, seeds, steps) - reference).max()

    assert error(solver, 10) / error(solver, 25) > 4.5
    assert 2.0 < error(first, 10) / error(first, 25) < 3.2


@pytest.mark.parametrize("beta_start", [1e-6, 1e-4])
def test_log_snr_steps_are_exact_in_count_and_strictly_descending(beta_start):
    alpha_bars = LinearSchedule(beta_start=beta_start, beta_end=0.01, num_steps=1000).table("alpha_bars")
    steps = tf.function(lambda count: log_snr_timesteps(count, alpha_bars))
    for count in range(1, 1001):
        visited = steps(tf.constant(count)).numpy()
        assert len(visited) == count and visited[0] <= 1000 and visited.min() >= 1, count
        assert np.all(np.diff(visited) < 0), count
    np.testing.assert_array_equal(visited, np.arange(1000, 0, -1))
    lambdas = log_snr(tf.gather(alpha_bars, steps(tf.constant(20)))).numpy()
    assert np.ptp(np.diff(lambdas)[:12]) < 0.05  # even in λ where the steps are coarser than the grid


def test_log_snr_spacing_keeps_the_variance_where_even_time_spacing_overshoots():
    """The paper's schedule (β 1e-6 … 0.01), 10 and 20 steps of DPM-Solver++(2M): spaced evenly in λ the samples
    have the data's variance; spaced evenly in t they have about 1.5 times its standard deviation."""
    schedule = LinearSchedule(beta_start=1e-6, beta_end=0.01, num_steps=1000)
    latent = LatentSampler(ExactNoisePredictor(), schedule, SamplingConfig(method="ddpm", ddim_steps=20))
    for steps in (10, 20):
        log_snr_spaced = latent.sample(np.arange(500), schedulers.DPMSolverPlusPlus(schedule, False), steps)
        time_spaced = latent.sample(np.arange(500), schedulers.DPMSolverPlusPlus(schedule, False, spacing="time"),
                                    steps)
        assert abs(log_snr_spaced.std() / STD - 1.0) < 0.06, (steps, log_snr_spaced.std())
        assert time_spaced.std() / STD > 1.4, (steps, time_spaced.std())


def test_ddim_with_eta_0_is_deterministic():
    ddim = schedulers.DDIM(SCHEDULE, eta=0.0)
    x = tf.random.stateless_normal([3, *WINDOW], [1, 2])
    predicted = ExactNoisePredictor()([x, tf.fill([3], 0.5)])
    state = ddim.initial_state(x)
    one, _ = ddim.step(x, predicted, tf.constant(60), tf.constant(40), tf.random.stateless_normal(x.shape, [3, 4]),
                       state)
    other, _ = ddim.step(x, predicted, tf.constant(60), tf.constant(40), tf.random.stateless_normal(x.shape, [5, 6]),
                         state)
    np.testing.assert_array_equal(one, other)
    stochastic = schedulers.DDIM(SCHEDULE, eta=1.0)
    noisy = [stochastic.step(x, predicted, tf.constant(60), tf.constant(40),
                             tf.random.stateless_normal(x.shape, [s, 0]), state)[0] for s in (1, 2)]
    assert not np.allclose(*noisy)


@pytest.mark.parametrize("clip", [False, True])
def test_first_order_dpm_solver_is_ddim(clip):
    """Over the same steps (spaced evenly in t, as DDIM's)."""
    seeds = np.arange(16)
    for steps in (3, 10, 37):
        dpm = run(schedulers.DPMSolverPlusPlus(SCHEDULE, clip_denoised=clip, order=1, spacing="time"), seeds, steps)
        ddim = run(schedulers.DDIM(SCHEDULE, eta=0.0, clip_denoised=clip), seeds, steps)
        np.testing.assert_allclose(dpm, ddim, atol=2e-5, err_msg=f"{steps} steps")


def test_ddpm_over_all_steps_uses_each_steps_beta():
    ddpm = schedulers.DDPM(SCHEDULE, form="paper")
    x = tf.ones([1, *WINDOW])
    predicted = tf.fill([1, *WINDOW], 0.5)
    t = 37
    beta, alpha_bar = SCHEDULE.betas[t], SCHEDULE.alpha_bars[t]
    expected = (1.0 - beta / np.sqrt(1.0 - alpha_bar) * 0.5) / np.sqrt(1.0 - beta)  # Algorithm 3's mean (z = 0)
    stepped, _ = ddpm.step(x, predicted, tf.constant(t), tf.constant(t - 1), tf.zeros_like(x), ddpm.initial_state(x))
    np.testing.assert_allclose(stepped, expected, rtol=1e-5)


@pytest.mark.parametrize("name", schedulers.NAMES)
def test_infilling_keeps_the_kept_chunks(name):
    scheduler = sampler().scheduler(name)
    template = np.random.default_rng(0).uniform(-1, 1, (4, *WINDOW)).astype(np.float32)
    keep = np.zeros((4, WINDOW[0]), np.float32)
    keep[:, :3] = 1
    keep[2, 6:] = 1
    filled = run(scheduler, np.arange(4), 10, tf.constant(template), keep)
    np.testing.assert_array_equal(filled[keep == 1], template[keep == 1])
    assert not np.allclose(filled[keep == 0], template[keep == 0])


def test_registry_and_options():
    assert schedulers.NAMES == ("ddpm", "ddim", "dpm-solver++")
    with pytest.raises(ValueError, match="eta 0.5: ddpm has no eta"):
        schedulers.build("ddpm", SCHEDULE, eta=0.5)
    with pytest.raises(ValueError, match="scheduler 'heun': expected one of"):
        schedulers.build("heun", SCHEDULE)
    latent = sampler()
    assert [latent.default_steps(n) for n in schedulers.NAMES] == [1000, 20, 20]


def test_resampled_infilling_keeps_the_data_distribution():
    """RePaint's passes (`resample`) noise a step's result back and take the step again: with an exact predictor
    and DDPM over all steps the regenerated chunks stay N(MEAN, STD²) and the kept chunks equal the template; one
    pass is the plain loop; a scheduler with memory across steps refuses."""
    latent, seeds = sampler(), np.arange(128)
    template = np.random.default_rng(1).uniform(-1, 1, (len(seeds), *WINDOW)).astype(np.float32)
    keep = np.zeros(WINDOW[0], np.float32)
    keep[:3] = 1
    filled = latent.infill(template, keep, seeds, "ddpm", 1000, resample=3)
    np.testing.assert_array_equal(filled[:, :3], template[:, :3])
    new = filled[:, 3:]
    assert abs(new.mean() - MEAN) < 0.015 and abs(new.std() - STD) < 0.015, (new.mean(), new.std())
    few = template[:8], keep, seeds[:8]
    once = latent.infill(*few, "ddim", 20, resample=1)
    np.testing.assert_array_equal(once, latent.infill(*few, "ddim", 20))
    assert not np.allclose(once[:, 3:], latent.infill(*few, "ddim", 20, resample=2)[:, 3:])
    with pytest.raises(ValueError, match="resample 2: the dpm-solver\\+\\+ scheduler keeps memory"):
        latent.infill(*few, "dpm-solver++", 10, resample=2)
