"""Per-melody stateless noise: every melody has its own int seed s, and every random draw of its generation comes
from the key `fold_in(fold_in([s, 0], purpose), step)`.

So melody b of a batch is the same in any batch, on any path (library, command line, SavedModel, evaluation
rows), and a seed fixes the whole melody: the diffusion model's start noise, the noise of each reverse step, the
re-noised template of infilling; the TransformerMDN's draws; the decoder's refill and Gumbel noise.
"""
import tensorflow as tf

# what a draw is for (the first argument of `key`)
START, TEMPLATE, STEP, TEMPLATE_STEP = 0, 1, 2, 3  # the diffusion model's reverse process
RESAMPLE, RESAMPLE_STEP, RESAMPLE_TEMPLATE = 4, 5, 6  # infilling's extra passes (`LatentSampler.infill(resample)`)
MIXTURE_COMPONENT, MIXTURE_VALUE = 8, 9  # the TransformerMDN's ancestral draws
REFILL, GUMBEL = 16, 17  # the MusicVAE decoder's input and sampling


def seed_pairs(seeds):
    """int seeds `[B]` → stateless seeds `[B, 2]` int64 `[s, 0]`."""
    seeds = tf.cast(seeds, tf.int64)
    return tf.stack([seeds, tf.zeros_like(seeds)], axis=1)


def key(pair, purpose, step=0):
    """The stateless key `[2]` of (`purpose`, `step`) under one melody's seed pair `[2]`."""
    purpose_key = tf.random.experimental.stateless_fold_in(pair, purpose)
    return tf.random.experimental.stateless_fold_in(purpose_key, tf.cast(step, tf.int64))


def per_melody(pairs, draw):
    """`[B, ...]` float32: row b is `draw(pairs[b])`, a float32 tensor of one fixed shape."""
    return tf.map_fn(draw, pairs, fn_output_signature=tf.float32)


def normal(pairs, purpose, step, shape):
    """Standard normal `[B, *shape]`: row b drawn with key(pairs[b], purpose, step)."""
    return per_melody(pairs, lambda pair: tf.random.stateless_normal(shape, key(pair, purpose, step)))


def uniform(pairs, purpose, step, shape):
    """U[0, 1) `[B, *shape]`: row b drawn with key(pairs[b], purpose, step)."""
    return per_melody(pairs, lambda pair: tf.random.stateless_uniform(shape, key(pair, purpose, step)))

