"""Sampling and infilling with one seed per melody and the step count as a tensor, for graphs that take `steps`
as an input (the SavedModel bundle) and for the library's generation path alike.

`steps` = N (the schedule's training steps) runs ancestral DDPM over all N steps; 1 ≤ `steps` < N runs DDIM on
`steps` of them (`ddim_timesteps`). Both are `DiffusionSampler`'s own steps (`ddpm_step`, `ddim_step`,
`_reverse_loop`, a `tf.while_loop`), with the noise of `symdiff_tf.generation.noise`: melody b of a batch is
`DiffusionSampler.ddpm(1, seed=s_b, ...)` (or `.ddim`, `.infill`, `.ddim_infill`) with the same settings.
"""
import tensorflow as tf

from symdiff_tf.diffusion.samplers import (_START_KEY, _STEP_KEY, _TEMPLATE_KEY, _TEMPLATE_STEP_KEY, DDPM_FORMS,
                                            VARIANCES, DiffusionSampler)
from symdiff_tf.generation import noise


def ddim_timesteps(num_steps, num_diffusion_steps: int):
    """`samplers.ddim_timesteps` as graph ops: round(linspace(N, 1, num_steps)) in float64, int32 `[num_steps]`.

    Computed as numpy's linspace computes it (start + i·step, the last value set to the stop), so the steps are
    the same for every count. `num_steps` is an int32 scalar tensor in 1..N.
    """
    count = tf.cast(num_steps, tf.float64)
    start = tf.constant(float(num_diffusion_steps), tf.float64)
    step = (1.0 - start) / tf.maximum(count - 1.0, 1.0)
    index = tf.range(num_steps)
    values = tf.cast(index, tf.float64) * step + start
    values = tf.where((index == num_steps - 1) & (num_steps > 1), tf.constant(1.0, tf.float64), values)
    return tf.cast(tf.round(values), tf.int32)


class SeededSampler:
    """DDPM / DDIM sampling and Algorithm 1 infilling over a `DiffusionSampler`'s network and schedule.

    Args:
        sampler: the `DiffusionSampler` (its network, schedule and step arithmetic are used).
        ddpm_form: "original" (x̂0 clipped) or "paper" (Algorithm 3), as `DiffusionSampler.ddpm`.
        variance: "beta_tilde" or "beta", as `DiffusionSampler.ddpm`.
        ddim_eta: DDIM stochasticity; DDIM clips x̂0 (`DiffusionSampler.ddim`'s default).
    Infilling starts from N(0, I) with the kept chunks noised to the first level and pastes the template at the
    level of the state it goes into (`DiffusionSampler.infill`'s defaults).
    """

    def __init__(self, sampler: DiffusionSampler, ddpm_form: str = "original", variance: str = "beta_tilde",
                 ddim_eta: float = 0.0):
        self.sampler = sampler
        self.num_steps = sampler.schedule.num_steps
        for name, value, choices in (("ddpm_form", ddpm_form, DDPM_FORMS), ("variance", variance, VARIANCES)):
            if value not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {value!r}")
        self.ddpm_form, self.variance, self.ddim_eta = ddpm_form, variance, float(ddim_eta)

    @property
    def window_shape(self):
        """(chunks, kept dims) of one melody's latents."""
        return (self.sampler.sequence_length, self.sampler.latent_dim)

    def _run(self, x, pairs, steps, after_step):
        """Runs the reverse process from x `[B, L, k]` over `steps` (DDPM at N, DDIM below); `after_step(x,
        t_prev)` post-processes every new state (identity for sampling, the template paste for infilling)."""
        sampler = self.sampler

        def loop(timesteps, step):
            def update(x, t, t_prev):
                fresh = noise.normal(pairs, _STEP_KEY, t, self.window_shape)
                return after_step(step(x, t, t_prev, fresh), t_prev)
            return sampler._reverse_loop(x, timesteps, update, 0)

        def ddpm():
            clip = self.ddpm_form == "original"
            return loop(tf.range(self.num_steps, 0, -1, dtype=tf.int32),
                        lambda x, t, _, z: sampler.ddpm_step(x, t, z, clip, self.variance))

        def ddim():
            eta = tf.constant(self.ddim_eta, tf.float32)
            return loop(ddim_timesteps(steps, self.num_steps),
                        lambda x, t, t_prev, z: sampler.ddim_step(x, t, t_prev, z, eta, True))

        return tf.cond(steps >= self.num_steps, ddpm, ddim)

    def sample(self, pairs, steps):
        """Seed pairs `[B, 2]` (`noise.seed_pairs`), steps int32 scalar → scaled latents `[B, L, k]` float32."""
        x = noise.normal(pairs, _START_KEY, 0, self.window_shape)
        return self._run(x, pairs, steps, lambda x, _: x)

    def infill(self, template, chunk_mask, pairs, steps):
        """Algorithm 1: template `[B, L, k]`, chunk_mask `[B, L]` (1 = keep), seed pairs `[B, 2]`, steps →
        `[B, L, k]` with the kept chunks equal to the template."""
        mask = tf.cast(chunk_mask, tf.float32)[:, :, None]

        def noised(purpose, level):
            alpha_bar = self.sampler._alpha_bars[level]
            fresh = noise.normal(pairs, purpose, level, self.window_shape)
            return tf.sqrt(alpha_bar) * template + tf.sqrt(1.0 - alpha_bar) * fresh

        def paste(x, t_prev):
            known = tf.where(t_prev > 0, noised(_TEMPLATE_STEP_KEY, t_prev), template)
            return x * (1.0 - mask) + known * mask

        start = noise.normal(pairs, _START_KEY, 0, self.window_shape)
        # DDPM and DDIM both start at step N
        x = start * (1.0 - mask) + noised(_TEMPLATE_KEY, self.num_steps) * mask
        return self._run(x, pairs, steps, paste)
