"""Standard MIDI files built with graph ops (for the SavedModel, whose clients get `midi_bytes` without Python).

One file per melody: format 0, one track; a tempo event (120 qpm) and a 4/4 time signature at time 0, then for
every note a note on (velocity 80) and a note off, with variable-length delta times, and the end of the track
at the end of the window. 220 ticks per quarter note and the rest as `symdiff_tf.melody.render.tokens_to_midi`
(which writes the same notes with pretty_midi), so both files read back as the same notes.

Bytes are int32 values 0..255 turned into strings by gathering from a table of the 256 one-byte strings and
joining (`tf.strings.unicode_encode` would write values above 127 as two UTF-8 bytes).
"""
import tensorflow as tf

from symdiff_tf.melody.chunks import STEPS_PER_BAR
from symdiff_tf.melody.render import QPM, VELOCITY

TICKS_PER_QUARTER = 220
TICKS_PER_STEP = TICKS_PER_QUARTER * 4 // STEPS_PER_BAR
NOTE_ON, NOTE_OFF = 0x90, 0x80
MICROSECONDS_PER_QUARTER = round(60_000_000 / QPM)
HEADER = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") + \
    TICKS_PER_QUARTER.to_bytes(2, "big")
TRACK_START = (b"\x00\xff\x51\x03" + MICROSECONDS_PER_QUARTER.to_bytes(3, "big")  # tempo
               + b"\x00\xff\x58\x04\x04\x02\x18\x08")  # time signature 4/4, 24 clocks per click, 8 32nds per beat
END_OF_TRACK = b"\xff\x2f\x00"
VLQ_BYTES = 4  # a delta time below 2^28 ticks


def _byte_strings(values):
    """int32 byte values `[...]` → one-byte strings `[...]`."""
    table = tf.constant([bytes([value]) for value in range(256)])
    return tf.gather(table, values)


def _variable_length(values):
    """MIDI variable-length quantities of int32 `values` `[...]` < 2^28: (bytes `[..., 4]`, used `[..., 4]`
    bool); the used bytes are the last ones, most significant group first, all but the last with bit 7 set."""
    shifts = tf.constant([21, 14, 7, 0])
    groups = tf.bitwise.bitwise_and(tf.bitwise.right_shift(values[..., None], shifts), 0x7F)
    continuation = tf.constant([0x80, 0x80, 0x80, 0])
    length = 1 + sum(tf.cast(values >= 1 << bits, tf.int32) for bits in (7, 14, 21))
    used = tf.range(VLQ_BYTES) >= VLQ_BYTES - length[..., None]
    return tf.bitwise.bitwise_or(groups, continuation), used


def _join_bytes(values, used):
    """Per melody, the used bytes of `values` `[B, ...]` in order → string `[B]`."""
    strings = tf.where(used, _byte_strings(values), "")
    return tf.strings.reduce_join(tf.reshape(strings, [tf.shape(values)[0], -1]), axis=1)


def midi_files(pitches, starts, ends, num_notes, num_steps):
    """One standard MIDI file per melody, string `[B]`.

    Args: `tokens.notes` output — pitches, starts, ends int32 `[B, M]` (steps), num_notes `[B]`; num_steps:
    the window's length in 16th-note steps (where each track ends).
    """
    batch, most = tf.shape(pitches)[0], tf.shape(pitches)[1]
    # events in time order: on, off of note 0, then of note 1, …; a note ends no later than the next starts
    times = tf.reshape(tf.stack([starts, ends], axis=2), [batch, 2 * most]) * TICKS_PER_STEP
    deltas = times - tf.concat([tf.zeros([batch, 1], tf.int32), times[:, :-1]], axis=1)
    status = tf.tile(tf.constant([NOTE_ON, NOTE_OFF]), [most])[None]
    velocity = tf.tile(tf.constant([VELOCITY, 0]), [most])[None]
    message = tf.stack([tf.broadcast_to(status, tf.shape(times)), tf.repeat(pitches, 2, axis=1),
                        tf.broadcast_to(velocity, tf.shape(times))], axis=2)
    delta_bytes, delta_used = _variable_length(deltas)
    event_bytes = tf.concat([delta_bytes, message], axis=2)  # [B, 2M, 4 + 3]
    is_event = tf.range(2 * most)[None] < 2 * num_notes[:, None]
    event_used = tf.concat([delta_used, tf.ones_like(message, tf.bool)], axis=2) & is_event[:, :, None]
    last_time = tf.reduce_max(tf.concat([times, tf.zeros([batch, 1], tf.int32)], axis=1), axis=1)
    end_bytes, end_used = _variable_length(tf.maximum(num_steps * TICKS_PER_STEP - last_time, 0))
    track = tf.strings.join([TRACK_START, _join_bytes(event_bytes, event_used),
                             _join_bytes(end_bytes, end_used), END_OF_TRACK])
    length = tf.strings.length(track)
    length_bytes = tf.bitwise.bitwise_and(tf.bitwise.right_shift(length[:, None], [24, 16, 8, 0]), 0xFF)
    return tf.strings.join([HEADER, b"MTrk", _join_bytes(length_bytes, tf.ones_like(length_bytes, tf.bool)),
                            track])
