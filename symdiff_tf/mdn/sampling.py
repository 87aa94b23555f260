"""Ancestral sampling of the TransformerMDN: one position at a time, inside one compiled `tf.function` loop.

Step i (0 ≤ i < L): run the sequence encoder on the conditioning buffer (position 0 a zero start vector,
position j the value drawn at step j − 1), the position head on position i only, draw z_i from that mixture,
write it to the output and to buffer position i + 1. One seed per melody, as every generation path
(`symdiff_tf.models_common.noise`; draw i of melody b from its seed's keys for step i, `mixture.draw`): a melody
is the same in any batch. With a temperature (`mixture_distribution`).

What is returned (`return_values`):
- "conditioned" (default): z_0..z_{L−1}, exactly the values that later positions were conditioned on.
- "original": the released `sample_mdn.py` behaviour (`original.md` §3.4): after the last step every position
  is drawn afresh from the last forward pass, so position j is a new draw from p(·|z_<j), not the z_j the
  later positions saw. Only for reproducing the paper's MDN row.
"""
import numpy as np
import tensorflow as tf

from symdiff_tf.mdn.mixture import draw
from symdiff_tf.models_common import noise

RETURN_VALUES = ("conditioned", "original")


class MDNSampler:
    """Compiled sampler for one model; build it once and call it many times.

    Args:
        model: a `TransformerMDN`, or any object with its attributes `sequence_length`, `latent_dim`,
            `sequence_encoder` (shifted latents `[batch, L, D]` → features `[batch, L, F]`, causal) and
            `position_head` (features `[batch, n, F]` → mixture parameters of those n positions).
        jit_compile: compile the loop with XLA (not faster on CPU here; seeds give other numbers under XLA).

    Call: `(seeds, temperature=1.0, return_values="conditioned")`, one int seed per melody `[B]` → float32 numpy
    `[B, L, D]` in the model's (scaled) latent space.
    """

    def __init__(self, model, jit_compile: bool = False):
        self.model = model
        self._loop = tf.function(self._loop_fn, jit_compile=jit_compile, reduce_retracing=True)

    def _loop_fn(self, pairs, temperature, redraw_all: bool):
        length, dims = self.model.sequence_length, self.model.latent_dim
        num_samples = tf.shape(pairs)[0]
        buffer = tf.zeros([num_samples, length, dims], tf.float32)
        drawn = tf.zeros([num_samples, length, dims], tf.float32)
        for step in tf.range(length):
            features = self.model.sequence_encoder(buffer, training=False)
            params = self.model.position_head(tf.gather(features, step[None], axis=1), training=False)
            z = draw({name: value[:, 0] for name, value in params.items()}, temperature, pairs, step)
            drawn += tf.one_hot(step, length)[None, :, None] * z[:, None, :]
            # one_hot(length, length) is all zeros: the last draw conditions nothing.
            buffer += tf.one_hot(step + 1, length)[None, :, None] * z[:, None, :]
        if redraw_all:
            params = self.model.position_head(self.model.sequence_encoder(buffer, training=False), training=False)
            drawn = draw(params, temperature, pairs, length)
        return drawn

    def __call__(self, seeds, temperature: float = 1.0, return_values: str = "conditioned") -> np.ndarray:
        if return_values not in RETURN_VALUES:
            raise ValueError(f"return_values={return_values!r}: expected one of {RETURN_VALUES}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        seeds = np.asarray(seeds, np.int64).reshape(-1)
        if len(seeds) < 1:
            raise ValueError("seeds: expected one seed per melody, got none")
        return self._loop(noise.seed_pairs(seeds), tf.constant(temperature, tf.float32),
                          return_values == "original").numpy()


def sample(model, seeds, temperature: float = 1.0, return_values: str = "conditioned") -> np.ndarray:
    """One-off convenience: `MDNSampler(model)(seeds, temperature, return_values)`."""
    return MDNSampler(model)(seeds, temperature, return_values)
