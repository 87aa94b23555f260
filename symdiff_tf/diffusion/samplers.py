"""Reverse-process samplers: DDPM (original and Algorithm 3 forms), DDIM, and infilling (Algorithm 1) on
either.

Unconditional sampling and infilling are two `tf.function`s each (optionally XLA-compiled), built once per
`DiffusionSampler`: the start state x_N, and a `tf.while_loop` over a span of the steps with the DDPM or DDIM
step (`ddpm_step`, `ddim_step`) inside; each retraces only for a new batch size, flag set or step count. Without
a `progress` callback the loop runs over all steps in one call; with one, in blocks of about
`PROGRESS_BLOCK_SECONDS` with the callback between them (the same steps, so the same samples). Randomness is
stateless: the start noise and the noise of step t come from `fold_in(seed, ·)`, so a seed gives the same
samples every time (XLA and non-XLA runs differ from each other, tensorflow#121243). The schedule and update
arithmetic stay float32 under mixed precision.

Steps are 1-based: x_N … x_0, ᾱ_0 = 1; the network is conditioned on the noise level √ᾱ_t.
"""
import time

import numpy as np
import tensorflow as tf

from symdiff_tf.diffusion.schedule import LinearSchedule

DDPM_FORMS = ("original", "paper")
VARIANCES = ("beta_tilde", "beta")
MODES = ("eager", "compiled", "xla")
VARIANCE_FLOOR = 1e-20
# with a progress callback, the compiled loop runs in blocks of steps of about this many seconds: a block boundary
# costs one call of the compiled function (about a millisecond), far below 1 % of a block
PROGRESS_BLOCK_SECONDS = 0.5
_START_KEY, _TEMPLATE_KEY, _STEP_KEY, _TEMPLATE_STEP_KEY = 0, 1, 2, 3


def ddim_timesteps(num_steps: int, num_diffusion_steps: int) -> np.ndarray:
    """`num_steps` distinct steps evenly spread over 1..N, descending (N first), as int32."""
    if not 1 <= num_steps <= num_diffusion_steps:
        raise ValueError(f"DDIM needs 1..{num_diffusion_steps} steps, got {num_steps}")
    steps = np.round(np.linspace(num_diffusion_steps, 1, num_steps)).astype(np.int32)
    if len(np.unique(steps)) != num_steps:
        raise AssertionError(f"DDIM steps collided: {steps}")
    return steps


def recorded_iterations(num_iterations: int, num_intermediates: int) -> np.ndarray:
    """Iterations done when each of the K intermediate states is recorded, `[K]` int: state k (0-based) is the one
    after the last iteration i with ⌊i·K / S⌋ = k (`_reverse_loop`), i.e. ⌈(k+1)·S / K⌉ of S iterations."""
    slots = np.arange(1, num_intermediates + 1)
    return -(-slots * num_iterations // num_intermediates)


class DiffusionSampler:
    """Samplers for a noise-prediction network `model([x [B, L, k], noise_level [B]]) → ε̂ [B, L, k]`.

    Args:
        model: the (built) Keras model, e.g. `TransformerDDPM`.
        schedule: `LinearSchedule`.
        mode: "compiled" (`tf.function`, default), "xla" (`jit_compile=True`) or "eager" (no compilation,
            for the benchmark).
    """

    def __init__(self, model, schedule: LinearSchedule, mode: str = "compiled"):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.model = model
        self.schedule = schedule
        self.mode = mode
        self.sequence_length, self.latent_dim = model.inputs[0].shape[1:]
        self._betas = schedule.table("betas")
        self._alphas = schedule.table("alphas")
        self._alpha_bars = schedule.table("alpha_bars")

        def compile_fn(fn):
            if mode == "eager":
                return fn
            return tf.function(fn, jit_compile=(mode == "xla"), reduce_retracing=False)

        self._sample_start_fn = compile_fn(self._sample_start)
        self._sample_fn = compile_fn(self._sample_steps)
        self._infill_start_fn = compile_fn(self._infill_start)
        self._infill_fn = compile_fn(self._infill_steps)

    # ----- public API -------------------------------------------------------------------------------------
    def ddpm(self, num_samples: int, seed: int, ddpm_form: str = "original", variance: str = "beta_tilde",
             num_intermediates: int = 0, progress=None):
        """Ancestral sampling over all N steps.

        Args:
            ddpm_form: "original" — as the released code ran it: x̂0 is computed, clipped to [−1, 1], and the
                posterior mean of q(x_{t−1} | x_t, x̂0) is used, so every output lies in [−1, 1]; "paper" —
                Algorithm 3: x_{t−1} = (x_t − β_t/√(1−ᾱ_t)·ε̂)/√α_t + σ_t·z, no clipping.
            variance: σ_t² = β̃_t = β_t(1−ᾱ_{t−1})/(1−ᾱ_t) ("beta_tilde", both the original and WaveGrad) or β_t.
            num_intermediates: K > 0 also returns K states spread over the run (the last one is x_0).
            progress: None, or `progress(steps_done, total_steps)`, called after each block of steps (`_run`).
        Returns:
            x_0 `[num_samples, 32, k]` float32, or (x_0, states `[K, num_samples, 32, k]`).
        """
        return self._sample(seed, num_samples, self._ddpm_method(ddpm_form, variance), num_intermediates, progress)

    def ddim(self, num_samples: int, seed: int, num_steps: int = 50, eta: float = 0.0, clip_denoised: bool = True,
             num_intermediates: int = 0, progress=None):
        """DDIM (Song et al. 2021) over `num_steps` of the N training steps, with stochasticity `eta`.

        eta = 0 is deterministic given x_N; eta = 1 over all N steps without clipping is DDPM with β̃.
        `clip_denoised` clips x̂0 to [−1, 1] and re-derives ε̂ from it. `progress` and the result as `ddpm`.
        """
        return self._sample(seed, num_samples, self._ddim_method(num_steps, eta, clip_denoised), num_intermediates,
                            progress)

    def infill(self, template, mask, seed: int, ddpm_form: str = "original", variance: str = "beta_tilde",
               uniform_start: bool = False, template_at_current_step: bool = False, num_intermediates: int = 0,
               progress=None):
        """Algorithm 1: regenerates the chunks where `mask` is 0 and keeps those where it is 1.

        Args:
            template: known latents s `[B, 32, k]` (values under mask 0 are ignored).
            mask: `[32]` or `[B, 32]`, 1 = keep the chunk, 0 = generate it; any pattern.
            uniform_start: start the generated chunks from U[0, 1) and the kept ones from s itself, as the
                original code did; default x_N ~ N(0, I) with the kept chunks noised to level N.
            template_at_current_step: paste s noised to level t into x_{t−1} (the original's off-by-one);
                default level t−1, so the kept chunks always sit at the noise level of the state they are in.
            Other arguments as `ddpm`.
        Returns:
            `[B, 32, k]` (kept chunks equal to the template exactly), or with states as `ddpm`.
        """
        return self._infill(seed, template, mask, self._ddpm_method(ddpm_form, variance), uniform_start,
                            template_at_current_step, num_intermediates, progress)

    def ddim_infill(self, template, mask, seed: int, num_steps: int = 50, eta: float = 0.0,
                    clip_denoised: bool = True, uniform_start: bool = False, template_at_current_step: bool = False,
                    num_intermediates: int = 0, progress=None):
        """Algorithm 1's replacement on DDIM steps (not in the paper): after each step t → t′ of `ddim`, the kept
        chunks are set to the template noised to level t′ (to t with `template_at_current_step`), the template
        itself after the last step.

        Arguments as `infill` (template, mask, seed, uniform_start, template_at_current_step, num_intermediates,
        progress) and `ddim` (num_steps, eta, clip_denoised). With all N steps, eta = 1 and no clipping it is
        `infill` with `ddpm_form="paper"` (the same seeded noise). Returns as `infill`.
        """
        return self._infill(seed, template, mask, self._ddim_method(num_steps, eta, clip_denoised), uniform_start,
                            template_at_current_step, num_intermediates, progress)

    # ----- running the compiled functions -----------------------------------------------------------------
    def _sample(self, seed, num_samples, method, num_intermediates, progress):
        """Unconditional sampling with `method` = (timesteps, name, eta, clip_denoised, variance)."""
        seed = self._seed(seed)
        timesteps, *options = method
        x = self._sample_start_fn(seed, num_samples)

        def steps(x, states, first, last):
            return self._sample_fn(seed, x, states, timesteps, first, last, *options, num_intermediates)

        return self._run(steps, x, timesteps, num_intermediates, progress)

    def _infill(self, seed, template, mask, method, uniform_start, template_at_current_step, num_intermediates,
                progress):
        """Infilling with `method` as `_sample`'s."""
        seed = self._seed(seed)
        template, mask = self._template_and_mask(template, mask)
        timesteps, *options = method
        x = self._infill_start_fn(seed, template, mask, timesteps[0], bool(uniform_start))

        def steps(x, states, first, last):
            return self._infill_fn(seed, template, mask, x, states, timesteps, first, last, *options,
                                   bool(template_at_current_step), num_intermediates)

        return self._run(steps, x, timesteps, num_intermediates, progress)

    @staticmethod
    def _run(steps, x, timesteps, num_intermediates, progress):
        """Runs `steps(x, states, first, last)` (the compiled loop over iterations first..last−1) over all S
        iterations of `timesteps`: in one call without `progress`, else in blocks of about
        `PROGRESS_BLOCK_SECONDS` (the first block is one step, which also pays for tracing; each next block is
        sized from the last one's time per step), calling `progress(steps_done, S)` after each.

        Returns x_0, or (x_0, states) when `num_intermediates`."""
        total = int(timesteps.shape[0])
        states = DiffusionSampler._no_states(x, num_intermediates)
        done, block = 0, (1 if progress is not None else total)
        while done < total:
            last = min(done + block, total)
            began = time.perf_counter()
            x, states = steps(x, states, tf.constant(done), tf.constant(last))
            if progress is not None:
                progress(last, total)
                seconds_per_step = max(time.perf_counter() - began, 1e-6) / (last - done)
                block = max(1, int(PROGRESS_BLOCK_SECONDS / seconds_per_step))
            done = last
        return (x, states) if num_intermediates else x

    # ----- pieces -----------------------------------------------------------------------------------------
    @staticmethod
    def _check_choice(name, value, choices):
        if value not in choices:
            raise ValueError(f"{name} must be one of {choices}, got {value!r}")

    def _ddpm_method(self, ddpm_form, variance):
        """(timesteps, method, eta, clip_denoised, variance) of the compiled loops for DDPM over all N steps."""
        self._check_choice("ddpm_form", ddpm_form, DDPM_FORMS)
        self._check_choice("variance", variance, VARIANCES)
        timesteps = tf.range(self.schedule.num_steps, 0, -1, dtype=tf.int32)
        return timesteps, "ddpm", tf.constant(0.0), ddpm_form == "original", variance

    def _ddim_method(self, num_steps, eta, clip_denoised):
        """(timesteps, method, eta, clip_denoised, variance) of the compiled loops for DDIM."""
        timesteps = tf.constant(ddim_timesteps(num_steps, self.schedule.num_steps))
        return timesteps, "ddim", tf.constant(eta, tf.float32), bool(clip_denoised), None

    @staticmethod
    def _template_and_mask(template, mask):
        """float32 template `[B, L, k]` and mask `[B, L, 1]` (from `[L]` or `[B, L]`)."""
        template = tf.convert_to_tensor(template, tf.float32)
        mask = tf.cast(tf.convert_to_tensor(mask), tf.float32)
        if mask.shape.rank == 1:
            mask = tf.broadcast_to(mask[None, :], template.shape[:2])
        if mask.shape != template.shape[:2]:
            raise ValueError(f"mask {mask.shape} does not match the template's chunks {template.shape[:2]}")
        return template, mask[:, :, None]

    @staticmethod
    def _seed(seed):
        return tf.constant([int(seed), 0], tf.int64)

    @staticmethod
    def _key(seed, purpose, step=0):
        key = tf.random.experimental.stateless_fold_in(seed, purpose)
        return tf.random.experimental.stateless_fold_in(key, tf.cast(step, tf.int64))

    def _shape(self, batch):
        return tf.stack([batch, self.sequence_length, self.latent_dim]) if tf.is_tensor(batch) else (
            batch, self.sequence_length, self.latent_dim)

    def predict_noise(self, x, alpha_bar):
        """ε̂ for states x `[B, L, k]` at the scalar level ᾱ (the network sees √ᾱ). float32."""
        noise_level = tf.fill(tf.shape(x)[:1], tf.sqrt(alpha_bar))
        return tf.cast(self.model([x, noise_level], training=False), tf.float32)

    def ddpm_step(self, x, t, noise, clip_denoised, variance):
        """x_t → x_{t−1} for step t (int32 scalar tensor, 1..N); `noise` z `[B, L, k]` is ignored at t = 1."""
        beta, alpha = self._betas[t], self._alphas[t]
        alpha_bar, alpha_bar_prev = self._alpha_bars[t], self._alpha_bars[t - 1]
        predicted = self.predict_noise(x, alpha_bar)
        if clip_denoised:
            x0 = tf.clip_by_value((x - tf.sqrt(1.0 - alpha_bar) * predicted) / tf.sqrt(alpha_bar), -1.0, 1.0)
            mean = (beta * tf.sqrt(alpha_bar_prev) / (1.0 - alpha_bar)) * x0 + (
                (1.0 - alpha_bar_prev) * tf.sqrt(alpha) / (1.0 - alpha_bar)) * x
        else:
            mean = (x - beta / tf.sqrt(1.0 - alpha_bar) * predicted) / tf.sqrt(alpha)
        if variance == "beta_tilde":
            sigma_squared = tf.maximum(beta * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar), VARIANCE_FLOOR)
        else:
            sigma_squared = beta
        sigma = tf.where(t > 1, tf.sqrt(sigma_squared), 0.0)
        return mean + sigma * noise

    def ddim_step(self, x, t, t_prev, noise, eta, clip_denoised):
        """x_t → x_{t_prev} for steps t > t_prev ≥ 0 (int32 scalar tensors) with stochasticity `eta` (float32
        scalar); `noise` z `[B, L, k]` (its weight σ is 0 when t_prev = 0)."""
        alpha_bar, alpha_bar_prev = self._alpha_bars[t], self._alpha_bars[t_prev]
        predicted = self.predict_noise(x, alpha_bar)
        x0 = (x - tf.sqrt(1.0 - alpha_bar) * predicted) / tf.sqrt(alpha_bar)
        if clip_denoised:
            x0 = tf.clip_by_value(x0, -1.0, 1.0)
            predicted = (x - tf.sqrt(alpha_bar) * x0) / tf.sqrt(1.0 - alpha_bar)
        sigma = eta * tf.sqrt((1.0 - alpha_bar_prev) / (1.0 - alpha_bar) * (1.0 - alpha_bar / alpha_bar_prev))
        direction = tf.sqrt(tf.maximum(1.0 - alpha_bar_prev - tf.square(sigma), 0.0)) * predicted
        return tf.sqrt(alpha_bar_prev) * x0 + direction + sigma * noise

    def _reverse_loop(self, x, timesteps, update, num_intermediates):
        """Runs `x = update(x, t, t_prev)` over t = timesteps[0..S−1] (descending; t_prev the next one, 0 after
        the last) in a `tf.while_loop`; records K states if asked: returns x, or (x, states `[K, *x.shape]`)."""
        states = self._no_states(x, num_intermediates)
        x, states = self._loop_span(x, states, timesteps, 0, tf.shape(timesteps)[0], update, num_intermediates)
        return (x, states) if num_intermediates else x

    @staticmethod
    def _no_states(x, num_intermediates):
        """The recorded states before the first step: zeros `[K, *x.shape]`, or a placeholder `[1]` when K = 0."""
        return tf.zeros([num_intermediates, *x.shape]) if num_intermediates else tf.zeros([1])

    @staticmethod
    def _loop_span(x, states, timesteps, first, last, update, num_intermediates):
        """Iterations first..last−1 (int32 scalars) of `_reverse_loop`, from state x and the K recorded `states`
        so far (`[K, *x.shape]`; `[1]` when K = 0); returns (x, states). Spans run one after another give what one
        span over all iterations gives: t_prev and the recording slots depend on the index only."""
        num_iterations = tf.shape(timesteps)[0]

        def body(index, x, states):
            t_prev = tf.where(index + 1 < num_iterations, timesteps[tf.minimum(index + 1, num_iterations - 1)], 0)
            x = update(x, timesteps[index], t_prev)
            if num_intermediates:
                # slot k holds the state after the last iteration of the k-th of K equal stretches
                # (`recorded_iterations` gives their iteration counts)
                slot = (index * num_intermediates) // num_iterations
                states = tf.tensor_scatter_nd_update(states, [[slot]], x[None])
            return index + 1, x, states

        _, x, states = tf.while_loop(lambda index, *_: index < last, body,
                                     (tf.convert_to_tensor(first, tf.int32), x, states))
        return x, states

    def _denoise(self, seed, shape, method, eta, clip_denoised, variance):
        """`step(x, t, t_prev)`: one "ddpm" or "ddim" step with the stateless noise of step t."""
        def step(x, t, t_prev):
            noise = tf.random.stateless_normal(shape, self._key(seed, _STEP_KEY, t))
            if method == "ddpm":
                return self.ddpm_step(x, t, noise, clip_denoised, variance)
            return self.ddim_step(x, t, t_prev, noise, eta, clip_denoised)

        return step

    def _sample_start(self, seed, num_samples):
        """x_N `[num_samples, L, k]`: the seeded start noise."""
        return tf.random.stateless_normal(self._shape(num_samples), self._key(seed, _START_KEY))

    def _sample_steps(self, seed, x, states, timesteps, first, last, method, eta, clip_denoised, variance,
                      num_intermediates):
        step = self._denoise(seed, tf.shape(x), method, eta, clip_denoised, variance)
        return self._loop_span(x, states, timesteps, first, last, step, num_intermediates)

    def _noised_template(self, template, seed, purpose, step):
        """s noised to level `step` (0 = s itself) with the stateless noise of (purpose, step)."""
        alpha_bar = self._alpha_bars[step]
        noise = tf.random.stateless_normal(tf.shape(template), self._key(seed, purpose, step))
        return tf.sqrt(alpha_bar) * template + tf.sqrt(1.0 - alpha_bar) * noise

    def _infill_start(self, seed, template, mask, first_step, uniform_start):
        """x_N of infilling at step `first_step` (N for DDPM): noise where `mask` is 0, the kept chunks noised to
        that level where it is 1 (with `uniform_start`: U[0, 1) and the template itself, as the original)."""
        shape = tf.shape(template)
        if uniform_start:
            start = tf.random.stateless_uniform(shape, self._key(seed, _START_KEY))
            known = template
        else:
            start = tf.random.stateless_normal(shape, self._key(seed, _START_KEY))
            known = self._noised_template(template, seed, _TEMPLATE_KEY, first_step)
        return start * (1.0 - mask) + known * mask

    def _infill_steps(self, seed, template, mask, x, states, timesteps, first, last, method, eta, clip_denoised,
                      variance, template_at_current_step, num_intermediates):
        step = self._denoise(seed, tf.shape(template), method, eta, clip_denoised, variance)

        def update(x, t, t_prev):
            x = step(x, t, t_prev)
            level = t if template_at_current_step else t_prev
            known = tf.where(t_prev > 0, self._noised_template(template, seed, _TEMPLATE_STEP_KEY, level), template)
            return x * (1.0 - mask) + known * mask

        return self._loop_span(x, states, timesteps, first, last, update, num_intermediates)
