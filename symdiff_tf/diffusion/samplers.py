"""Reverse-process samplers: DDPM (original and Algorithm 3 forms), DDIM, and infilling (Algorithm 1) on
either.

Unconditional sampling and infilling are one `tf.function` each (optionally XLA-compiled), built once per
`DiffusionSampler`, with a `tf.while_loop` over the steps and the DDPM or DDIM step (`ddpm_step`, `ddim_step`)
inside; each retraces only for a new batch size, flag set or step count. Randomness is
stateless: the start noise and the noise of step t come from `fold_in(seed, ·)`, so a seed gives the same
samples every time (XLA and non-XLA runs differ from each other, tensorflow#121243). The schedule and update
arithmetic stay float32 under mixed precision.

Steps are 1-based: x_N … x_0, ᾱ_0 = 1; the network is conditioned on the noise level √ᾱ_t.
"""
import numpy as np
import tensorflow as tf

from symdiff_tf.diffusion.schedule import LinearSchedule

DDPM_FORMS = ("original", "paper")
VARIANCES = ("beta_tilde", "beta")
MODES = ("eager", "compiled", "xla")
VARIANCE_FLOOR = 1e-20
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

        self._sample_fn = compile_fn(self._sample_loop)
        self._infill_fn = compile_fn(self._infill_loop)

    # ----- public API -------------------------------------------------------------------------------------
    def ddpm(self, num_samples: int, seed: int, ddpm_form: str = "original", variance: str = "beta_tilde",
             num_intermediates: int = 0):
        """Ancestral sampling over all N steps.

        Args:
            ddpm_form: "original" — as the released code ran it: x̂0 is computed, clipped to [−1, 1], and the
                posterior mean of q(x_{t−1} | x_t, x̂0) is used, so every output lies in [−1, 1]; "paper" —
                Algorithm 3: x_{t−1} = (x_t − β_t/√(1−ᾱ_t)·ε̂)/√α_t + σ_t·z, no clipping.
            variance: σ_t² = β̃_t = β_t(1−ᾱ_{t−1})/(1−ᾱ_t) ("beta_tilde", both the original and WaveGrad) or β_t.
            num_intermediates: K > 0 also returns K states spread over the run (the last one is x_0).
        Returns:
            x_0 `[num_samples, 32, k]` float32, or (x_0, states `[K, num_samples, 32, k]`).
        """
        return self._sample_fn(self._seed(seed), num_samples, *self._ddpm_method(ddpm_form, variance),
                               num_intermediates)

    def ddim(self, num_samples: int, seed: int, num_steps: int = 50, eta: float = 0.0, clip_denoised: bool = True,
             num_intermediates: int = 0):
        """DDIM (Song et al. 2021) over `num_steps` of the N training steps, with stochasticity `eta`.

        eta = 0 is deterministic given x_N; eta = 1 over all N steps without clipping is DDPM with β̃.
        `clip_denoised` clips x̂0 to [−1, 1] and re-derives ε̂ from it. Returns as `ddpm`.
        """
        return self._sample_fn(self._seed(seed), num_samples, *self._ddim_method(num_steps, eta, clip_denoised),
                               num_intermediates)

    def infill(self, template, mask, seed: int, ddpm_form: str = "original", variance: str = "beta_tilde",
               uniform_start: bool = False, template_at_current_step: bool = False, num_intermediates: int = 0):
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
        template, mask = self._template_and_mask(template, mask)
        return self._infill_fn(self._seed(seed), template, mask, *self._ddpm_method(ddpm_form, variance),
                               bool(uniform_start), bool(template_at_current_step), num_intermediates)

    def ddim_infill(self, template, mask, seed: int, num_steps: int = 50, eta: float = 0.0,
                    clip_denoised: bool = True, uniform_start: bool = False, template_at_current_step: bool = False,
                    num_intermediates: int = 0):
        """Algorithm 1's replacement on DDIM steps (not in the paper): after each step t → t′ of `ddim`, the kept
        chunks are set to the template noised to level t′ (to t with `template_at_current_step`), the template
        itself after the last step.

        Arguments as `infill` (template, mask, seed, uniform_start, template_at_current_step, num_intermediates)
        and `ddim` (num_steps, eta, clip_denoised). With all N steps, eta = 1 and no clipping it is `infill`
        with `ddpm_form="paper"` (the same seeded noise). Returns as `infill`.
        """
        template, mask = self._template_and_mask(template, mask)
        return self._infill_fn(self._seed(seed), template, mask, *self._ddim_method(num_steps, eta, clip_denoised),
                               bool(uniform_start), bool(template_at_current_step), num_intermediates)

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
        the last) in a `tf.while_loop`; records K states if asked."""
        num_iterations = tf.shape(timesteps)[0]
        states = tf.zeros([max(num_intermediates, 1), *x.shape]) if num_intermediates else tf.zeros([1])

        def body(index, x, states):
            t_prev = tf.where(index + 1 < num_iterations, timesteps[tf.minimum(index + 1, num_iterations - 1)], 0)
            x = update(x, timesteps[index], t_prev)
            if num_intermediates:
                # slot k holds the state after the last iteration of the k-th of K equal stretches
                # (`recorded_iterations` gives their iteration counts)
                slot = (index * num_intermediates) // num_iterations
                states = tf.tensor_scatter_nd_update(states, [[slot]], x[None])
            return index + 1, x, states

        _, x, states = tf.while_loop(lambda index, *_: index < num_iterations, body,
                                     (tf.constant(0), x, states))
        return (x, states) if num_intermediates else x

    def _denoise(self, seed, shape, method, eta, clip_denoised, variance):
        """`step(x, t, t_prev)`: one "ddpm" or "ddim" step with the stateless noise of step t."""
        def step(x, t, t_prev):
            noise = tf.random.stateless_normal(shape, self._key(seed, _STEP_KEY, t))
            if method == "ddpm":
                return self.ddpm_step(x, t, noise, clip_denoised, variance)
            return self.ddim_step(x, t, t_prev, noise, eta, clip_denoised)

        return step

    def _sample_loop(self, seed, num_samples, timesteps, method, eta, clip_denoised, variance, num_intermediates):
        shape = self._shape(num_samples)
        x = tf.random.stateless_normal(shape, self._key(seed, _START_KEY))
        step = self._denoise(seed, shape, method, eta, clip_denoised, variance)
        return self._reverse_loop(x, timesteps, step, num_intermediates)

    def _noised_template(self, template, seed, purpose, step):
        """s noised to level `step` (0 = s itself) with the stateless noise of (purpose, step)."""
        alpha_bar = self._alpha_bars[step]
        noise = tf.random.stateless_normal(tf.shape(template), self._key(seed, purpose, step))
        return tf.sqrt(alpha_bar) * template + tf.sqrt(1.0 - alpha_bar) * noise

    def _infill_loop(self, seed, template, mask, timesteps, method, eta, clip_denoised, variance, uniform_start,
                     template_at_current_step, num_intermediates):
        shape = tf.shape(template)
        if uniform_start:
            start = tf.random.stateless_uniform(shape, self._key(seed, _START_KEY))
            known = template
        else:
            start = tf.random.stateless_normal(shape, self._key(seed, _START_KEY))
            known = self._noised_template(template, seed, _TEMPLATE_KEY, timesteps[0])
        x = start * (1.0 - mask) + known * mask
        step = self._denoise(seed, shape, method, eta, clip_denoised, variance)

        def update(x, t, t_prev):
            x = step(x, t, t_prev)
            level = t if template_at_current_step else t_prev
            known = tf.where(t_prev > 0, self._noised_template(template, seed, _TEMPLATE_STEP_KEY, level), template)
            return x * (1.0 - mask) + known * mask

        return self._reverse_loop(x, timesteps, update, num_intermediates)
