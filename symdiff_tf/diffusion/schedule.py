"""The linear β schedule and the continuous noise level of training (`original.md` §2.3–2.4, Algorithm 2).

Steps are 1-based as in the paper: β_1..β_N, ᾱ_t = Π_{s≤t}(1 − β_s), ᾱ_0 = 1. All arithmetic is float32,
also when the network runs in mixed precision.
"""
import numpy as np
import tensorflow as tf

from symdiff_tf.diffusion.config import ScheduleConfig

NOISE_LEVEL_SAMPLINGS = ("alpha_bar", "sqrt_alpha_bar")


class LinearSchedule:
    """β_t linear from `beta_start` (t = 1) to `beta_end` (t = N).

    Attributes (numpy float64, index t = 0..N with the t = 0 entry meaning "no noise"):
        betas: β_t (β_0 = 0); alphas: 1 − β_t; alpha_bars: ᾱ_t (ᾱ_0 = 1).
    """

    def __init__(self, beta_start=1e-6, beta_end=0.01, num_steps=1000, noise_level_sampling="alpha_bar"):
        if noise_level_sampling not in NOISE_LEVEL_SAMPLINGS:
            raise ValueError(f"noise_level_sampling must be one of {NOISE_LEVEL_SAMPLINGS}, "
                             f"got {noise_level_sampling!r}")
        self.num_steps = int(num_steps)
        self.noise_level_sampling = noise_level_sampling
        betas = np.linspace(beta_start, beta_end, self.num_steps, dtype=np.float64)
        self.betas = np.concatenate([[0.0], betas])
        self.alphas = 1.0 - self.betas
        self.alpha_bars = np.cumprod(self.alphas)

    @classmethod
    def from_config(cls, config: ScheduleConfig):
        return cls(config.beta_start, config.beta_end, config.num_steps, config.noise_level_sampling)

    def table(self, name):
        """A float32 constant `[N + 1]` of `betas`, `alphas` or `alpha_bars`, indexable by step t."""
        return tf.constant(getattr(self, name), tf.float32)

    def sample_noise_level(self, seed):
        """Algorithm 2's continuous noise level √ᾱ for one example, drawn with a stateless `seed` `[2]`.

        t ~ U{1..N}; then ᾱ ~ U(ᾱ_t, ᾱ_{t−1}) ("alpha_bar", the released code) or
        √ᾱ ~ U(√ᾱ_t, √ᾱ_{t−1}) ("sqrt_alpha_bar", the paper's text). Returns a float32 scalar √ᾱ.
        """
        step_seed, level_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        step = tf.random.stateless_uniform([], step_seed, minval=1, maxval=self.num_steps + 1, dtype=tf.int32)
        fraction = tf.random.stateless_uniform([], level_seed, dtype=tf.float32)
        alpha_bars = self.table("alpha_bars")
        upper, lower = alpha_bars[step - 1], alpha_bars[step]
        if self.noise_level_sampling == "alpha_bar":
            return tf.sqrt(lower + fraction * (upper - lower))
        return tf.sqrt(lower) + fraction * (tf.sqrt(upper) - tf.sqrt(lower))


def add_noise(x_clean, noise, noise_level):
    """q(x_t | x_0) with a continuous level: √ᾱ·x_0 + √(1 − ᾱ)·ε.

    Args: x_clean and noise `[batch, 32, k]`; noise_level √ᾱ `[batch]`. Returns `[batch, 32, k]`.
    """
    level = tf.reshape(noise_level, [-1, 1, 1])
    return level * x_clean + tf.sqrt(1.0 - tf.square(level)) * noise
