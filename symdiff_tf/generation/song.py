"""A user's MIDI song as an infilling window: its melody's 2-bar chunks and which bars to keep.

Bars count from 1 in 4/4 from the melody's first bar (`symdiff_tf.melody.file_to_melodies`). The window holds
the model's 32 chunks (64 bars) from `start_bar`; bars `first`..`last` are regenerated, every other bar of the
input comes back with exactly its notes, and bars past the end of the input are generated (which continues the
melody). No TensorFlow here: `Generator.infill(window.tokens, window.keep_bars, ...)` does the rest.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from symdiff_tf.melody import file_to_melodies
from symdiff_tf.melody.chunks import STEPS_PER_CHUNK
from symdiff_tf.melody.pianoroll import BARS_PER_CHUNK


@dataclasses.dataclass
class SongWindow:
    """tokens: int32 `[chunks, 32]`, the melody's chunks from `start_bar` (all "no event" past its end);
    keep_bars: bool `[2 · chunks]`, True for the bars that come back unchanged; input_bars: how many bars of the
    window the input fills; source, track: where the melody came from."""

    tokens: np.ndarray
    keep_bars: np.ndarray
    input_bars: int
    start_bar: int
    source: str
    track: str


def parse_bars(text: str) -> tuple[int, int]:
    """'17-48' → (17, 48); '9' → (9, 9). Bars count from 1; ValueError saying what was expected."""
    first, _, last = text.strip().partition("-")
    try:
        bars = int(first), int(last or first)
    except ValueError:
        raise ValueError(f"bars {text!r}: expected A-B, bar numbers from 1 (e.g. 17-48)") from None
    if not 1 <= bars[0] <= bars[1]:
        raise ValueError(f"bars {text!r}: expected 1 <= A <= B")
    return bars


def song_window(path, bars: tuple[int, int], track: str | None = None, melody: int = 0, start_bar: int = 1,
                chunks: int = 32, quantize: str = "paper") -> SongWindow:
    """The infilling window of the MIDI file at `path` that regenerates bars `bars` = (first, last), inclusive.

    Args:
        track: the instrument name holding the melody (POP909: "MELODY"); None reads every instrument.
        melody: which of the file's melodies with at least one 2-bar chunk, in extraction order.
        start_bar: the window's first bar, odd (windows start at a chunk); the bars to regenerate must lie in
            the window's 2 · chunks bars.
        quantize: "paper" or "beats" (`melody.file_to_melodies`).
    Raises ValueError naming the file for a file without such a melody or bars outside the window.
    """
    source = os.fspath(path)
    first, last = bars
    window_bars = chunks * BARS_PER_CHUNK
    if start_bar < 1 or start_bar % BARS_PER_CHUNK != 1:
        raise ValueError(f"start bar {start_bar}: windows start at an odd bar (1, 3, 5, …: a 2-bar chunk)")
    if not start_bar <= first <= last < start_bar + window_bars:
        raise ValueError(f"bars {first}-{last}: the model sees {window_bars} bars, here {start_bar}-"
                         f"{start_bar + window_bars - 1}; pick bars inside them or another start bar")
    melodies = [record for record in file_to_melodies(path, track=track, quantize=quantize) if record.n_chunks]
    if not 0 <= melody < len(melodies):
        raise ValueError(f"{source}: melody {melody} asked for, the file has {len(melodies)} melodies of at least "
                         f"2 bars{'' if track is None else f' in track {track!r}'}")
    record = melodies[melody]
    first_chunk = (start_bar - 1) // BARS_PER_CHUNK
    taken = record.chunks[first_chunk:first_chunk + chunks]
    if not len(taken):
        raise ValueError(f"{source}: the melody has {record.n_chunks * BARS_PER_CHUNK} bars; the window starts "
                         f"past its end at bar {start_bar}")
    tokens = np.zeros((chunks, STEPS_PER_CHUNK), np.int32)
    tokens[:len(taken)] = taken
    input_bars = len(taken) * BARS_PER_CHUNK
    bar_numbers = start_bar + np.arange(window_bars)
    keep_bars = ((bar_numbers < first) | (bar_numbers > last)) & (np.arange(window_bars) < input_bars)
    return SongWindow(tokens, keep_bars, input_bars, start_bar, source, record.track)
