"""2-bar token chunks as graph ops: rest flags, how notes join across bars, and the notes themselves.

Tokens are `symdiff_tf.melody.chunks` classes (0 no event, 1 note off, 2 + pitch − 21 an onset). Decoded chunks
are rendered one by one (a note sounding at the end of a chunk ends there, `render.tokens_to_notes(continuous=
False)`), but the chunks of a real melody that come back unchanged (infilling) join as the melody did, so that
their notes are exactly the input's. `joined_tokens` writes that rule into the tokens — a note off at each bar
line where a sounding note must end — after which the whole window renders with `continuous=True`; the library
gives those tokens to `render.tokens_to_midi` and `pianoroll.save_pianoroll`, the SavedModel to `notes` and
`symdiff_tf.generation.midi`.
"""
import tensorflow as tf

from symdiff_tf.melody.chunks import (CLASS_FIRST_PITCH, CLASS_NO_EVENT, CLASS_NOTE_OFF, MIN_PITCH, STEPS_PER_BAR,
                                      STEPS_PER_CHUNK)
from symdiff_tf.melody.pianoroll import BARS_PER_CHUNK


def sounding_flags(tokens):
    """Tokens `[..., 32]` int → bool `[...]`: True for the chunks with at least one note onset."""
    return tf.reduce_any(tf.convert_to_tensor(tokens) >= CLASS_FIRST_PITCH, axis=-1)


def rest_flags(tokens):
    """`chunks.rest_chunks` as graph ops: tokens `[..., 32]` int → bool `[...]`, True for the chunks the model's
    training data holds as zero latents (no onset in the first bar, or the last note ends by step 16)."""
    tokens = tf.convert_to_tensor(tokens)
    onset = tokens >= CLASS_FIRST_PITCH
    has_first_bar_onset = tf.reduce_any(onset[..., :STEPS_PER_BAR], axis=-1)
    steps = tf.range(STEPS_PER_CHUNK, dtype=tokens.dtype)
    last_onset = tf.reduce_max(tf.where(onset, steps, -1), axis=-1, keepdims=True)
    off_after = (tokens == CLASS_NOTE_OFF) & (steps > last_onset)
    first_off = tf.reduce_min(tf.where(off_after, steps, STEPS_PER_CHUNK), axis=-1)
    return ~(has_first_bar_onset & (first_off > STEPS_PER_BAR))


def bars_of_chunks(chunk_flags):
    """Per-chunk flags `[B, L]` → per-bar flags `[B, 2L]` (each chunk's two bars)."""
    return tf.repeat(chunk_flags, BARS_PER_CHUNK, axis=1)


def chunks_of_bars(bar_flags):
    """Per-bar flags `[B, 2L]` bool → per-chunk `[B, L]`: True where both bars of the chunk are set."""
    return tf.reduce_all(tf.reshape(bar_flags, [tf.shape(bar_flags)[0], -1, BARS_PER_CHUNK]), axis=-1)


def joined_tokens(tokens, real_bars):
    """Tokens `[B, L, 32]` with a note off written at every bar line where a sounding note must end, so that
    rendering them continuously gives the rule of the module docstring. int32 `[B, L, 32]`.

    real_bars `[B, 2L]` bool: True for the bars that are the input melody's own (infilling), False for decoded
    ones. A note carries over a bar line between two real bars, and over the middle of a decoded chunk; it ends
    at every other bar line (between decoded chunks, and where real and decoded bars meet).
    """
    tokens = tf.cast(tokens, tf.int32)
    real_bars = tf.cast(real_bars, tf.bool)
    batch, num_bars = tf.shape(real_bars)[0], tf.shape(real_bars)[1]
    before, after = real_bars[:, :-1], real_bars[:, 1:]
    inside_chunk = tf.range(1, num_bars) % BARS_PER_CHUNK != 0
    carries = (before & after) | (~before & ~after & inside_chunk)
    cut = tf.concat([tf.zeros([batch, 1], tf.bool), ~carries], axis=1)  # per bar: a note must end at its start
    bars = tf.reshape(tokens, [batch, num_bars, STEPS_PER_BAR])
    first_step = bars[:, :, :1]
    first_step = tf.where(cut[:, :, None] & (first_step == CLASS_NO_EVENT), CLASS_NOTE_OFF, first_step)
    return tf.reshape(tf.concat([first_step, bars[:, :, 1:]], axis=2), tf.shape(tokens))


def _compact(flags, steps, num_steps):
    """Positions of the set flags `[B, S]`, in order, padded with values ≥ num_steps: int32 `[B, S]`."""
    return tf.sort(tf.where(flags, steps, num_steps + steps), axis=1)


def notes(tokens):
    """Notes of `joined_tokens` output `[B, L, 32]`, rendered continuously (`render.tokens_to_notes(...,
    continuous=True)`), as padded int32 arrays.

    Returns a dict: `pitches` (MIDI), `starts`, `ends` (16th-note steps from the window's start) `[B, M]` with M
    the most notes of any melody in the batch, zero past each melody's `num_notes` `[B]`.
    """
    tokens = tf.cast(tokens, tf.int32)
    batch = tf.shape(tokens)[0]
    flat = tf.reshape(tokens, [batch, -1])
    num_steps = tf.shape(flat)[1]
    steps = tf.broadcast_to(tf.range(num_steps)[None], tf.shape(flat))
    onset = flat >= CLASS_FIRST_PITCH
    stop = flat != CLASS_NO_EVENT  # a note ends at the next onset or note off, else at the window's end
    stop_positions = tf.minimum(_compact(stop, steps, num_steps), num_steps)
    stop_positions = tf.concat([stop_positions, tf.fill([batch, 1], num_steps)], axis=1)
    next_stop = tf.gather(stop_positions, tf.cumsum(tf.cast(stop, tf.int32), axis=1), batch_dims=1)
    num_notes = tf.reduce_sum(tf.cast(onset, tf.int32), axis=1)
    most = tf.reduce_max(tf.concat([num_notes, [0]], axis=0))
    onset_positions = tf.minimum(_compact(onset, steps, num_steps)[:, :most], num_steps - 1)
    valid = tf.range(most)[None] < num_notes[:, None]

    def padded(values):
        return tf.where(valid, values, 0)

    return {
        "pitches": padded(tf.gather(flat, onset_positions, batch_dims=1) - CLASS_FIRST_PITCH + MIN_PITCH),
        "starts": padded(onset_positions),
        "ends": padded(tf.gather(next_stop, onset_positions, batch_dims=1)),
        "num_notes": num_notes,
    }
