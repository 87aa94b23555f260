"""2-bar melody tokens -> NoteSequence / MIDI, and back (for round-trip checks).

Tokens: int `[n_chunks, 32]`, one per 16th-note step; 0 = no event (hold or rest), 1 = note off, 2 + (pitch - 21)
= note on of a MIDI pitch 21..108 (MusicVAE's `OneHotMelodyConverter` classes, original.md §5.1).

Rendering follows magenta's `OneHotMelodyConverter.from_tensors`: 120 qpm, 4 steps per quarter (0.125 s per step),
velocity 80, program 0, a note lasts until the next onset or note off. The original joined the chunks with
`concatenate_sequences` without durations, so chunks drifted off the grid (original.md §1.8); here chunk i always
starts at exactly `i * 4.0` seconds.

Two ways to join chunks (`continuous=`):
- False (default, as magenta decodes latents one chunk at a time): each chunk is rendered on its own; a note still
  sounding at the end of a chunk ends there, and a chunk's first steps of "no event" are silence.
- True (the chunks are consecutive pieces of one extracted melody): a note held at the end of a chunk carries on
  into the next chunk until its note off or next onset.
The inverse (`midi_to_tokens`, `notes_to_tokens`) uses the same convention. tokens -> MIDI -> tokens is the
identity in both modes for any tokens whose note offs all end a sounding note; a note off with nothing sounding
(possible in generated tokens, never in extracted chunks, see `chunks`) cannot be seen in MIDI and comes back as 0.
"""
from __future__ import annotations

import os

import numpy as np

from symdiff_tf.melody.chunks import CLASS_FIRST_PITCH as FIRST_PITCH_TOKEN
from symdiff_tf.melody.chunks import CLASS_NO_EVENT as NO_EVENT
from symdiff_tf.melody.chunks import CLASS_NOTE_OFF as NOTE_OFF
from symdiff_tf.melody.chunks import MAX_PITCH, MIN_PITCH, STEPS_PER_CHUNK
from symdiff_tf.melody.midi_io import read_midi

QPM = 120.0  # magenta's from_tensors (note_seq.DEFAULT_QUARTERS_PER_MINUTE)
SECONDS_PER_STEP = 60.0 / QPM / 4  # 0.125 s at 4 steps per quarter
CHUNK_SECONDS = STEPS_PER_CHUNK * SECONDS_PER_STEP  # 4.0 s = 2 bars of 4/4 at 120 qpm
VELOCITY = 80  # magenta's OUTPUT_VELOCITY


def as_tokens(tokens) -> np.ndarray:
    """`tokens` as int64 `[n_chunks, 32]`; ValueError for another shape or a class outside 0..89."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or tokens.shape[1] != STEPS_PER_CHUNK:
        raise ValueError(f"tokens must be [n_chunks, {STEPS_PER_CHUNK}], got shape {tokens.shape}")
    if tokens.size and (tokens.min() < 0 or tokens.max() > FIRST_PITCH_TOKEN + MAX_PITCH - MIN_PITCH):
        raise ValueError(f"tokens must lie in 0..{FIRST_PITCH_TOKEN + MAX_PITCH - MIN_PITCH}")
    return tokens.astype(np.int64)


def tokens_to_notes(tokens, continuous: bool = False):
    """Notes of `tokens` `[n_chunks, 32]` as step arrays (start_step, end_step, pitch), each `[n_notes]` int64.

    Steps count from the start of chunk 0 (32 per chunk). See the module docstring for `continuous`.
    """
    tokens = as_tokens(tokens)
    flat = tokens.reshape(-1)
    onsets = np.flatnonzero(flat >= FIRST_PITCH_TOKEN)
    # a note ends at the next step holding an onset or a note off, or at a forced end (chunk end or melody end)
    stops = flat != NO_EVENT
    n_steps = flat.shape[0]
    forced = np.arange(STEPS_PER_CHUNK, n_steps + 1, STEPS_PER_CHUNK) if not continuous else np.array([n_steps])
    boundaries = np.union1d(np.flatnonzero(stops), forced)
    ends = boundaries[np.searchsorted(boundaries, onsets, side="right")]
    return onsets, ends, flat[onsets] - FIRST_PITCH_TOKEN + MIN_PITCH


def tokens_to_note_sequence(tokens, continuous: bool = False):
    """A note_seq NoteSequence of `tokens` `[n_chunks, 32]`: 120 qpm, velocity 80, chunk i at `4.0 * i` s.

    `total_time` is `4.0 * n_chunks`, so trailing rest chunks keep their length.
    """
    import note_seq

    tokens = as_tokens(tokens)
    starts, ends, pitches = tokens_to_notes(tokens, continuous)
    sequence = note_seq.NoteSequence(ticks_per_quarter=note_seq.STANDARD_PPQ)
    sequence.tempos.add(qpm=QPM)
    for start, end, pitch in zip(starts.tolist(), ends.tolist(), pitches.tolist()):
        sequence.notes.add(pitch=pitch, velocity=VELOCITY, start_time=start * SECONDS_PER_STEP,
                           end_time=end * SECONDS_PER_STEP, instrument=0, program=0)
    sequence.total_time = tokens.shape[0] * CHUNK_SECONDS
    return sequence


def tokens_to_midi(tokens, path=None, continuous: bool = False) -> bytes:
    """Standard MIDI File bytes of `tokens` `[n_chunks, 32]`: the notes of `tokens_to_note_sequence` on one piano
    track at 120 qpm and 220 ticks per quarter (what note-seq writes); also written to `path` when given.

    Written with pretty_midi directly, which spares the note_seq import (about 1.5 s).
    """
    import io

    import pretty_midi

    starts, ends, pitches = tokens_to_notes(tokens, continuous)
    midi = pretty_midi.PrettyMIDI(resolution=220, initial_tempo=QPM)
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(velocity=VELOCITY, pitch=pitch, start=start * SECONDS_PER_STEP,
                                    end=end * SECONDS_PER_STEP)
                   for start, end, pitch in zip(starts.tolist(), ends.tolist(), pitches.tolist())]
    midi.instruments.append(piano)
    buffer = io.BytesIO()
    midi.write(buffer)
    data = buffer.getvalue()
    if path is not None:
        with open(os.fspath(path), "wb") as f:
            f.write(data)
    return data


def notes_to_tokens(start_step, end_step, pitch, n_chunks: int, continuous: bool = False) -> np.ndarray:
    """The inverse of `tokens_to_notes`: int64 `[n_chunks, 32]` from monophonic notes given in steps.

    Raises ValueError for overlapping notes, pitches outside 21..108, or notes beyond `n_chunks` chunks.
    """
    start_step, end_step, pitch = (np.asarray(a, np.int64) for a in (start_step, end_step, pitch))
    order = np.argsort(start_step, kind="stable")
    start_step, end_step, pitch = start_step[order], end_step[order], pitch[order]
    n_steps = n_chunks * STEPS_PER_CHUNK
    if len(pitch) and (pitch.min() < MIN_PITCH or pitch.max() > MAX_PITCH):
        raise ValueError(f"pitches must lie in {MIN_PITCH}..{MAX_PITCH}")
    if np.any(end_step[:-1] > start_step[1:]) or np.any(end_step <= start_step):
        raise ValueError("notes must be monophonic (no overlaps) and last at least one step")
    if len(pitch) and (start_step.min() < 0 or end_step.max() > n_steps):
        raise ValueError(f"notes must lie within {n_chunks} chunks ({n_steps} steps)")
    flat = np.full(n_steps, NO_EVENT, np.int64)
    off = end_step[(end_step < n_steps) & (continuous | (end_step % STEPS_PER_CHUNK != 0))]
    flat[off] = NOTE_OFF
    flat[start_step] = pitch - MIN_PITCH + FIRST_PITCH_TOKEN
    return flat.reshape(n_chunks, STEPS_PER_CHUNK)


def midi_to_tokens(path, n_chunks: int | None = None, continuous: bool = False) -> np.ndarray:
    """Tokens `[n_chunks, 32]` of a MIDI file written by `tokens_to_midi` (one monophonic part at 120 qpm).

    `n_chunks` defaults to the chunks the notes reach (trailing rest chunks are not in a MIDI file). Raises
    ValueError when a note is off the 16th-note grid.
    """
    score = read_midi(path)
    steps = np.stack([score.start, score.end]) / SECONDS_PER_STEP
    rounded = np.rint(steps).astype(np.int64)
    if np.any(np.abs(steps - rounded) > 1e-6):
        raise ValueError(f"{os.fspath(path)}: notes are not on the 16th-note grid at {QPM:g} qpm")
    if n_chunks is None:
        n_chunks = -(-int(rounded[1].max(initial=0)) // STEPS_PER_CHUNK)
    return notes_to_tokens(rounded[0], rounded[1], score.pitch, n_chunks, continuous)
