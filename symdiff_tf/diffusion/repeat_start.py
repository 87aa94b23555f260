"""The repeat start of infilling: the regenerated chunks begin as the kept music the song would repeat there,
noised part of the way, instead of as pure noise (SDEdit's start, Meng et al. 2022, applied to the gap).

Pop songs repeat 16-bar sections (a second verse, a chorus again); a diffusion model that starts the gap from
noise has no reason to repeat them, and its new bars come out sparser than the song's. With `repeat_start` s in
(0, 1), each regenerated chunk starts as the template's chunk a whole number of periods (`PERIOD_CHUNKS`, 16 bars)
before it (the nearest one that may be repeated: kept, and with notes when the caller knows the tokens, so that
an intro's silence is not repeated; after it when none is before), noised to the level s·N of the N-step schedule,
and the reverse process runs only over the steps at or below that level: small s keeps the repeat nearly as it
is, s near 1 keeps little of it. s = 1 is the paper's start from noise, step for step. Chunks with no kept chunk
at a whole number of periods start from noise at that level.
"""
from __future__ import annotations

import math

import tensorflow as tf

PERIOD_CHUNKS = 8  # 16 bars: the section length the gap repeats


def check_repeat_start(repeat_start, name: str = "repeat_start") -> float:
    """`repeat_start` as a float in (0, 1]; ValueError naming `name` otherwise."""
    value = float(repeat_start)
    if not math.isfinite(value) or not 0.0 < value <= 1.0:
        raise ValueError(f"{name} {repeat_start}: expected a number in (0, 1] (1 = start the gap from noise, "
                         "smaller keeps more of the repeated bars)")
    return value


def repeat_sources(keep_chunks, period: int = PERIOD_CHUNKS, repeatable=None):
    """For each chunk of `keep_chunks` (bool `[B, L]`, L known to the graph, true = kept) that is not kept: the
    `repeatable` chunk (bool `[B, L]`, default the kept ones) a whole number of periods before it (the nearest),
    else after it (the nearest). Returns (sources int32 `[B, L]`, found bool `[B, L]`); a kept chunk, or one
    without such a chunk, is its own source with found false."""
    keep_chunks = tf.convert_to_tensor(keep_chunks, tf.bool)
    repeatable = keep_chunks if repeatable is None else tf.convert_to_tensor(repeatable, tf.bool) & keep_chunks
    length = keep_chunks.shape[1]
    chunks = tf.range(length)
    sources = tf.broadcast_to(chunks, tf.shape(keep_chunks))
    found = tf.zeros_like(keep_chunks)
    wanted = tf.logical_not(keep_chunks)
    for direction in (-1, 1):  # before first
        for times in range(1, (length - 1) // period + 1):
            candidate = chunks + direction * times * period
            inside = (candidate >= 0) & (candidate < length)
            usable = tf.gather(repeatable, tf.clip_by_value(candidate, 0, length - 1), axis=1)
            take = wanted & ~found & inside[None] & usable
            sources = tf.where(take, tf.broadcast_to(candidate, tf.shape(sources)), sources)
            found = found | take
    return sources, found


def repeat_sketch(template, keep_chunks, repeatable=None, period: int = PERIOD_CHUNKS):
    """The template `[B, L, k]` with each chunk that is not kept replaced by its `repeat_sources` chunk; returns
    (sketch `[B, L, k]`, found bool `[B, L]`)."""
    sources, found = repeat_sources(keep_chunks, period, repeatable)
    return tf.gather(template, sources, axis=1, batch_dims=1), found


def start_level(repeat_start, num_diffusion_steps: int):
    """The step the reverse process starts from: round(s·N), at least 1 (int32 scalar tensor)."""
    level = tf.round(tf.cast(repeat_start, tf.float32) * float(num_diffusion_steps))
    return tf.maximum(tf.cast(level, tf.int32), 1)


def visited_timesteps(timesteps, repeat_start, num_diffusion_steps: int):
    """The scheduler's `timesteps` (int32 `[S]`, descending) at or below `start_level` (all of them at s = 1; at
    least the last one)."""
    level = tf.maximum(start_level(repeat_start, num_diffusion_steps), timesteps[-1])
    return tf.boolean_mask(timesteps, timesteps <= level)
