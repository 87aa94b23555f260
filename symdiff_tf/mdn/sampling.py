"""Ancestral sampling of the TransformerMDN: one position at a time, inside one compiled `tf.function` loop.

Step i (0 ≤ i < L): run the sequence encoder on the conditioning buffer (position 0 a zero start vector,
position j the value drawn at step j − 1), the position head on position i only, draw z_i from that mixture,
write it to the output and to buffer position i + 1. Seeded (stateless: step i uses `fold_in(seed, i)`), with
a temperature (`mixture_distribution`).

What is returned (`return_values`):
- "conditioned" (default): z_0..z_{L−1}, exactly the values that later positions were conditioned on.
- "original": the released `sample_mdn.py` behaviour (`original.md` §3.4): after the last step every position
  is drawn afresh from the last forward pass, so position j is a new draw from p(·|z_<j), not the z_j the
  later positions saw. Only for reproducing the paper's MDN row.
"""
import numpy as np
import tensorflow as tf

from symdiff_tf.mdn.mixture import mixture_distribution

RETURN_VALUES = ("conditioned", "original")


class MDNSampler:
    """Compiled sampler for one model; build it once and call it many times.

    Args:
        model: a `TransformerMDN`, or any object with its attributes `sequence_length`, `latent_dim`,
            `sequence_encoder` (shifted latents `[batch, L, D]` → features `[batch, L, F]`, causal) and
            `position_head` (features `[batch, n, F]` → mixture parameters of those n positions).
        jit_compile: compile the loop with XLA (not faster on CPU here; seeds give other numbers under XLA).

    Call: `(num_samples, seed, temperature=1.0, return_values="conditioned")` → float32 numpy
    `[num_samples, L, D]` in the model's (scaled) latent space.
    """

    def __init__(self, model, jit_compile: bool = False):
        self.model = model
        self._loop = tf.function(self._loop_fn, jit_compile=jit_compile, reduce_retracing=True)

    def _loop_fn(self, num_samples, seed, temperature, redraw_all: bool):
        length, dims = self.model.sequence_length, self.model.latent_dim
        buffer = tf.zeros([num_samples, length, dims], tf.float32)
        drawn = tf.zeros([num_samples, length, dims], tf.float32)
        for step in tf.range(length):
            features = self.model.sequence_encoder(buffer, training=False)
            params = self.model.position_head(tf.gather(features, step[None], axis=1), training=False)
            z = mixture_distribution({name: value[:, 0] for name, value in params.items()}, temperature).sample(
                seed=tf.random.experimental.stateless_fold_in(seed, step))
            drawn += tf.one_hot(step, length)[None, :, None] * z[:, None, :]
            # one_hot(length, length) is all zeros: the last draw conditions nothing.
            buffer += tf.one_hot(step + 1, length)[None, :, None] * z[:, None, :]
        if redraw_all:
            params = self.model.position_head(self.model.sequence_encoder(buffer, training=False), training=False)
            drawn = mixture_distribution(params, temperature).sample(
                seed=tf.random.experimental.stateless_fold_in(seed, length))
        return drawn

    def __call__(self, num_samples: int, seed: int, temperature: float = 1.0,
                 return_values: str = "conditioned") -> np.ndarray:
        if return_values not in RETURN_VALUES:
            raise ValueError(f"return_values={return_values!r}: expected one of {RETURN_VALUES}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        samples = self._loop(tf.constant(num_samples, tf.int32), tf.constant([seed, 0], tf.int64),
                             tf.constant(temperature, tf.float32), return_values == "original")
        return samples.numpy()


def sample(model, num_samples: int, seed: int = 0, temperature: float = 1.0,
           return_values: str = "conditioned") -> np.ndarray:
    """One-off convenience: `MDNSampler(model)(num_samples, seed, temperature, return_values)`."""
    return MDNSampler(model)(num_samples, seed, temperature, return_values)
