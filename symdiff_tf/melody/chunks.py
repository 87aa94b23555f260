"""A melody as 2-bar chunks of 32 class indices, identical to magenta's `OneHotMelodyConverter` in the paper's setup.

The original turned each extracted melody into `melody.to_sequence()` (120 qpm, no time signature, so 4/4 from
here on) and kept `OneHotMelodyConverter(skip_polyphony=False, max_bars=100, max_tensors_per_notesequence=None,
slice_bars=2, gap_bars=None, steps_per_quarter=4, dedupe_event_lists=False).to_tensors(ns).inputs[::2]`
(../shared/docs/original.md §1.2). What that does, step by step, and what this module reproduces without magenta:

1. Notes outside MIDI pitch 21..108 are dropped (they leave silence; they no longer cut anything).
2. The melody is extracted again on a 16-step bar grid counted from the start of the melody's piece: it now starts
   at the 4/4 bar holding its first remaining note, which can differ from the source bar (3/4 material, or a
   dropped first note).
3. The end is padded to a whole bar (a note off where the last note ends, if padding was needed), and the melody
   is cut to its first 100 bars.
4. Non-overlapping 32-step slices from the melody's first bar: slice j = steps [32j, 32j + 32); a last half chunk
   is dropped. Inside each slice, note offs before its first onset become "no event" (magenta re-creates each
   slice as a `Melody`, which cleans them).
5. Classes: 0 = no event, 1 = note off, 2 + (pitch - 21) = onset of pitch 21..108 (`NUM_CLASSES` = 90).

Rest chunks (§1.3) are the chunks for which the original, after `from_tensors`, got nothing from `to_tensors`
again and stored an all-zero latent: those with no onset in their first bar, or whose last note ends by step 16
(all notes within the first bar). Silent chunks are the common case.
"""
from __future__ import annotations

import numpy as np

from symdiff_tf.melody.extract import NO_EVENT, NOTE_OFF, melody_events

MIN_PITCH = 21
MAX_PITCH = 108
NUM_CLASSES = 2 + MAX_PITCH - MIN_PITCH + 1  # 90
STEPS_PER_BAR = 16
STEPS_PER_CHUNK = 32
MAX_BARS = 100

CLASS_NO_EVENT = 0
CLASS_NOTE_OFF = 1
CLASS_FIRST_PITCH = 2  # class of MIN_PITCH


def melody_notes(events: np.ndarray, start_step: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The notes of melody `events` (magenta event encoding, see `extract.Melody`) as step arrays.

    Returns (starts, ends, pitches), each [n_notes] int64, with steps counted like `start_step`. A note ends at
    the next onset, the next note off, or the end of `events`.
    """
    events = np.asarray(events)
    onsets = np.flatnonzero(events >= 0)
    boundaries = np.flatnonzero(events != NO_EVENT)  # onsets and note offs
    after = np.searchsorted(boundaries, onsets, side="right")
    ends = np.append(boundaries, len(events))[after]
    return onsets + start_step, ends + start_step, events[onsets].astype(np.int64)


def melody_to_chunks(events: np.ndarray, start_step: int = 0) -> np.ndarray:
    """2-bar chunks of one extracted melody: int32 [n_chunks, 32] of class indices 0..89 (see module docstring).

    events: the melody's events (`extract.Melody.events`); start_step: its first step counted from the start
    of its piece (`extract.Melody.start_step`), which places it on the converter's 4/4 grid. At most
    `MAX_BARS // 2` = 50 chunks.
    """
    starts, ends, pitches = melody_notes(events, start_step)
    in_range = (pitches >= MIN_PITCH) & (pitches <= MAX_PITCH)
    starts, ends, pitches = starts[in_range], ends[in_range], pitches[in_range]
    if not len(starts):
        return np.zeros((0, STEPS_PER_CHUNK), np.int32)
    bar_events, _ = melody_events(starts, ends, pitches, steps_per_bar=STEPS_PER_BAR)
    length = len(bar_events)
    n_chunks = min(-(-length // STEPS_PER_BAR), MAX_BARS) * STEPS_PER_BAR // STEPS_PER_CHUNK
    padded = np.full(max(n_chunks * STEPS_PER_CHUNK, length + 1), NO_EVENT, np.int16)
    padded[:length] = bar_events
    if length % STEPS_PER_BAR:  # magenta's pad_end ends the sounding last note where the melody ended
        padded[length] = NOTE_OFF
    chunk_events = padded[:n_chunks * STEPS_PER_CHUNK].reshape(n_chunks, STEPS_PER_CHUNK)
    return clean_leading_note_offs(events_to_classes(chunk_events))


def clean_leading_note_offs(chunks: np.ndarray) -> np.ndarray:
    """Chunks `[..., 32]` of classes with every note off before a chunk's first onset turned into "no event", as
    magenta's converter gives them (it re-creates each slice as a `Melody`, which drops those note offs).
    A copy, same shape and dtype."""
    chunks = np.asarray(chunks)
    before_first_onset = np.cumsum(chunks >= CLASS_FIRST_PITCH, axis=-1) == 0
    return np.where(before_first_onset & (chunks == CLASS_NOTE_OFF), CLASS_NO_EVENT, chunks).astype(chunks.dtype)


def events_to_classes(events: np.ndarray) -> np.ndarray:
    """magenta `MelodyOneHotEncoding(21, 109).encode_event` on an array: int32 classes, same shape.

    Raises ValueError for an onset outside 21..108.
    """
    events = np.asarray(events)
    if np.any((events >= 0) & ((events < MIN_PITCH) | (events > MAX_PITCH))):
        raise ValueError(f"melody onsets must be MIDI pitches {MIN_PITCH}..{MAX_PITCH}")
    return np.where(events >= 0, events - MIN_PITCH + CLASS_FIRST_PITCH, events + 2).astype(np.int32)


def rest_chunks(chunks: np.ndarray) -> np.ndarray:
    """Which chunks the original encoded as an all-zero latent (a "rest"): bool [n_chunks].

    chunks: int [n_chunks, 32] class indices. A chunk is a rest unless it has an onset in its first bar and its
    last note sounds past step 16; that is exactly when magenta's `to_tensors` on the chunk's `from_tensors`
    NoteSequence yields a tensor (§1.3 of original.md).
    """
    chunks = np.asarray(chunks).reshape(-1, STEPS_PER_CHUNK)
    onset = chunks >= CLASS_FIRST_PITCH
    has_first_bar_onset = onset[:, :STEPS_PER_BAR].any(axis=1)
    steps = np.arange(STEPS_PER_CHUNK)
    last_onset = np.where(onset, steps, -1).max(axis=1)
    # The last note ends at the first note off after its onset, else at the end of the chunk.
    off_after = (chunks == CLASS_NOTE_OFF) & (steps > last_onset[:, None])
    last_end = np.where(off_after.any(axis=1), np.argmax(off_after, axis=1), STEPS_PER_CHUNK)
    return ~(has_first_bar_onset & (last_end > STEPS_PER_BAR))


def transpose_chunks(tokens: np.ndarray, shift: int) -> np.ndarray:
    """Chunks `[..., 32]` of classes with every note onset moved by `shift` semitones (class + shift); no event
    (0) and note off (1) stay. Same shape and dtype; rest flags (`rest_chunks`) do not change.

    Raises ValueError when an onset would leave MIDI 21..108 (nothing is clipped: see `shifts_in_range`).
    """
    tokens = np.asarray(tokens)
    onsets = tokens >= CLASS_FIRST_PITCH
    moved = np.where(onsets, tokens + int(shift), tokens)
    if np.any(onsets & ((moved < CLASS_FIRST_PITCH) | (moved >= NUM_CLASSES))):
        raise ValueError(f"transposing by {int(shift):+d} semitones moves a note out of MIDI "
                         f"{MIN_PITCH}..{MAX_PITCH}")
    return moved.astype(tokens.dtype)


def shifts_in_range(tokens: np.ndarray, low: int, high: int) -> list[int]:
    """The semitone shifts in `low..high` (inclusive), 0 excluded, that keep every onset of `tokens` (int classes,
    any shape, e.g. one melody's chunks `[n, 32]`) in MIDI 21..108, ascending. Empty when `tokens` has no onset
    (every shift would give the same tokens)."""
    tokens = np.asarray(tokens)
    onsets = tokens[tokens >= CLASS_FIRST_PITCH]
    if not onsets.size:
        return []
    lowest = max(int(low), CLASS_FIRST_PITCH - int(onsets.min()))
    highest = min(int(high), NUM_CLASSES - 1 - int(onsets.max()))
    return [shift for shift in range(lowest, highest + 1) if shift != 0]
