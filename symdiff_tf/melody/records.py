"""From a MIDI file to melody records: extraction (`extract`) followed by 2-bar chunking (`chunks`)."""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from symdiff_tf.melody.chunks import melody_to_chunks, rest_chunks
from symdiff_tf.melody.extract import PieceTooLongError, extract_melodies


@dataclasses.dataclass(frozen=True)
class MelodyRecord:
    """One extracted melody with its 2-bar chunks.

    source: the MIDI file's path; quantize: "paper" or "beats" (how it was extracted, see `extract`).
    instrument, track, program, split_index, start_seconds, steps_per_bar, start_step, events: as in
        `extract.Melody` (start_seconds = where the melody's first bar starts in the source).
    chunks: int32 [n_chunks, 32] class indices 0..89 (`chunks.melody_to_chunks`); n_chunks may be 0.
    rests: bool [n_chunks], True for the chunks the original encoded as zero latents (`chunks.rest_chunks`).
    """

    source: str
    quantize: str
    instrument: int
    track: str
    program: int
    split_index: int
    start_seconds: float
    steps_per_bar: int
    start_step: int
    events: np.ndarray
    chunks: np.ndarray
    rests: np.ndarray

    @property
    def n_chunks(self) -> int:
        return len(self.chunks)


def file_to_melodies(path, track: str | None = None, quantize: str = "paper") -> list[MelodyRecord]:
    """Every melody of the MIDI file at `path` with its chunks and rest flags, in magenta's extraction order.

    track: keep only the instruments named `track` (POP909: "MELODY"). quantize: "paper" (magenta-identical,
    the default) or "beats" (beat grid from MIDI ticks; a song with tempo changes stays one melody).
    Melodies without any chunk (drum tracks, melodies under 2 bars) are included with n_chunks = 0.
    Raises `extract.PieceTooLongError` for a piece over an hour (the paper skipped it),
    `extract.TrackNotFoundError` when no instrument is named `track`, and ValueError naming the file when it
    cannot be read.
    """
    source = os.fspath(path)
    records = []
    for melody in extract_melodies(path, track=track, quantize=quantize):
        chunks = melody_to_chunks(melody.events, melody.start_step)
        records.append(MelodyRecord(
            source=source, quantize=quantize, instrument=melody.instrument, track=melody.track,
            program=melody.program, split_index=melody.split_index, start_seconds=melody.start_seconds,
            steps_per_bar=melody.steps_per_bar, start_step=melody.start_step, events=melody.events,
            chunks=chunks, rests=rest_chunks(chunks)))
    return records


def file_to_chunks(path, track: str | None = None, quantize: str = "paper") -> list[np.ndarray]:
    """One int32 array [n_chunks, 32] of class indices 0..89 per extracted melody, in magenta's order.

    With the defaults this equals, melody for melody, what the paper's pipeline gives with magenta
    (`song_utils.extract_melodies`, then `OneHotMelodyConverter.to_tensors(...).inputs[::2]`, argmax), including
    empty [0, 32] arrays for melodies without a chunk. A piece over an hour gives [] (the paper skipped it).
    See `file_to_melodies` for the arguments and errors.
    """
    try:
        return [record.chunks for record in file_to_melodies(path, track=track, quantize=quantize)]
    except PieceTooLongError:
        return []
