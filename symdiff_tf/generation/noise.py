"""Per-melody stateless noise: one int seed per melody, drawn exactly as `DiffusionSampler` draws for one sample.

`DiffusionSampler` seeds a whole batch with one int s (stateless seed `[s, 0]`) and draws the noise of purpose p
at step t from the key `fold_in(fold_in([s, 0], p), t)`. Here every melody b has its own seed s_b and its noise
is that draw for a batch of one, so melody b of a batch equals `DiffusionSampler(...)` run with `num_samples=1`
and `seed=s_b` (stateless draws of shape `[1, ...]` and `[...]` give the same numbers). Decoding adds two
purposes of its own (`REFILL`, `GUMBEL`), derived the same way, so a seed fixes the whole melody.
"""
import tensorflow as tf

from symdiff_tf.diffusion.samplers import DiffusionSampler
from symdiff_tf.musicvae.compiled import gumbel_noise

# purposes after the sampler's own (start 0, template 1, step 2, template step 3)
REFILL, GUMBEL = 16, 17


def seed_pairs(seeds):
    """int seeds `[B]` → stateless seeds `[B, 2]` int64 `[s, 0]`, as `DiffusionSampler` makes from one int."""
    seeds = tf.cast(seeds, tf.int64)
    return tf.stack([seeds, tf.zeros_like(seeds)], axis=1)


def key(pair, purpose, step=0):
    """The stateless key `[2]` of (`purpose`, `step`) under one melody's seed pair (`DiffusionSampler._key`)."""
    return DiffusionSampler._key(pair, purpose, step)


def per_melody(pairs, draw):
    """`[B, ...]` float32: row b is `draw(pairs[b])`, a float32 tensor of one fixed shape."""
    return tf.map_fn(draw, pairs, fn_output_signature=tf.float32)


def normal(pairs, purpose, step, shape):
    """Standard normal `[B, *shape]`: row b drawn with key(pairs[b], purpose, step)."""
    return per_melody(pairs, lambda pair: tf.random.stateless_normal(shape, key(pair, purpose, step)))


def gumbel(pairs, shape):
    """Standard Gumbel `[B, *shape]` for the MusicVAE decoder's sampling (`musicvae.compiled.gumbel_noise`)."""
    return per_melody(pairs, lambda pair: gumbel_noise(shape, key(pair, GUMBEL)))
