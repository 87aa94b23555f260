"""A user's MIDI song, regenerated in its own bars (what `symdiff infill SONG.mid` does), and one melody of a song
as a single model window.

The song (`plan_song` → `regenerate_song` → `write_song`): bars are the song's own, numbered from 1 by its time
signatures and mapped onto the model's 4-beat bars (`melody.song_grid`); the whole melody is on that grid, rests
included; the bars to regenerate go through one or more 64-bar windows placed for the most context
(`melody.long_form`), the model reached through two callables; the song is written back with only the melody's
notes in those bars replaced (`melody.song_writer`). No TensorFlow here.

One window (`song_window`, for the research path and the export checks): bars count from 1 in 4/4 from the
melody's first bar (`symdiff_tf.melody.file_to_melodies`); the window holds the model's 32 chunks (64 bars) from
`start_bar`, bars `first`..`last` regenerated, bars past the melody's end generated.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from symdiff_tf.melody import file_to_melodies
from symdiff_tf.melody.chunks import STEPS_PER_CHUNK
from symdiff_tf.melody.long_form import WINDOW_BARS, plan_windows, run_windows
from symdiff_tf.melody.pianoroll import BARS_PER_CHUNK
from symdiff_tf.melody.song_grid import SongMelody, song_melody, span_notes
from symdiff_tf.melody.song_writer import replace_melody


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


@dataclasses.dataclass(frozen=True)
class SongPlan:
    """How a song's bars first_bar..last_bar (the song's own numbers, as its editor shows them) are regenerated.

    melody: the song's melody on the model's grid (`melody.song_grid.SongMelody`); first, last: the model bars
    (0-based) holding those song bars (whole model bars: a span starting or ending inside one is widened to it);
    windows: the 64-bar windows that regenerate them, in order (`melody.long_form`).
    """

    melody: SongMelody
    first_bar: int
    last_bar: int
    first: int
    last: int
    windows: list

    @property
    def new_song_bars(self) -> tuple[int, int]:
        """The song bars that come out new (first_bar..last_bar widened to whole model bars)."""
        bars = self.melody.grid.model_bars(self.last + 1)
        return int(bars.first_song_bar[self.first]), int(bars.last_song_bar[self.last])

    def lines(self) -> list[str]:
        """What the command says before generating: the bar mapping, any widening, the windows."""
        grid = self.melody.grid
        first_new, last_new = self.new_song_bars
        lines = [f"{grid.path}: {grid.song_bars} bars; how its bars map to the model's 4-beat bars:"]
        lines += ["  " + line for line in grid.mapping_lines(max(grid.song_bars, last_new))]
        if (first_new, last_new) != (self.first_bar, self.last_bar):
            lines.append(f"bars {self.first_bar}-{self.last_bar} widened to {first_new}-{last_new}: whole model bars "
                         "are regenerated")
        windows = ", ".join(f"model bars {w.start + 1}-{w.start + 64} (new {w.first + 1}-{w.last + 1})"
                            for w in self.windows)
        lines.append(f"{len(self.windows)} window{'s' if len(self.windows) > 1 else ''} of 64 bars: {windows}")
        return lines

    def summary(self) -> str:
        """The last line: which bars are the song's and which are new."""
        song_bars = self.melody.grid.song_bars
        first_new, last_new = self.new_song_bars
        kept = [f"{a}-{b}" if b > a else str(a) for a, b in ((1, first_new - 1), (last_new + 1, song_bars)) if b >= a]
        past_end = (f" ({max(first_new, song_bars + 1)}-{last_new} continue past the song's end)"
                    if last_new > song_bars else "")
        return (f"bars {' and '.join(kept) if kept else 'none'} are the song's; bars {first_new}-{last_new} are new"
                f"{past_end}")


def plan_song(path, bars: tuple[int, int], track: str | None = None, start_bar: int | None = None) -> SongPlan:
    """The plan that regenerates song bars `bars` = (first, last) of the MIDI file at `path` (bars past the end
    continue the song). start_bar: the song bar where the single 64-bar window starts (it must begin a model
    bar); None places the windows automatically. ValueError naming the file or the bars for what cannot be done.
    """
    melody = song_melody(path, track)
    grid = melody.grid
    first_bar, last_bar = bars
    first, last = grid.model_bar_of_song_bar(first_bar), grid.model_bar_of_song_bar(last_bar)
    start = None
    if start_bar is not None:
        start = grid.model_bar_of_song_bar(start_bar)
        window = grid.model_bars(start + WINDOW_BARS)
        if int(window.first_song_bar[start]) != start_bar:
            raise ValueError(f"--start-bar {start_bar}: the model's bars start at song bar "
                             f"{int(window.first_song_bar[start])} there; start the window there")
        if not start <= first <= last < start + WINDOW_BARS:
            raise ValueError(f"bars {first_bar}-{last_bar} are not inside the {WINDOW_BARS}-bar window from "
                             f"--start-bar {start_bar} (song bars {start_bar}-{int(window.last_song_bar[-1])})")
    windows = plan_windows(first, last, grid.song_model_bars, start=start)
    return SongPlan(melody, first_bar, last_bar, first, last, windows)


def regenerate_song(plan: SongPlan, seeds, infill_windows, sample_windows=None, progress: str | None = None):
    """The plan's melodies, one per seed: int32 `[B, n_bars, 16]` steps from model bar 0 (`long_form.run_windows`
    with the callables described there)."""
    steps = np.repeat(plan.melody.steps[None], len(seeds), axis=0)
    return run_windows(plan.windows, steps, seeds, infill_windows, sample_windows, plan.melody.bars.song_steps,
                       progress)


def write_song(plan: SongPlan, steps, out_path, melody_only: bool = False):
    """Writes the song with the new melody `steps` `[n_bars, 16]` (one of `regenerate_song`'s) in the plan's bars
    to `out_path` (`melody.song_writer.replace_melody`). Returns (out_path, (first tick, end tick) of the new
    bars)."""
    melody = plan.melody
    starts, ends, pitches, span = span_notes(melody.grid, steps, plan.first, plan.last)
    replace_melody(melody.grid.path, out_path, melody.track or None, span[0], span[1], starts, ends, pitches,
                   melody.velocity, melody.grid.ticks_per_step, melody_only=melody_only)
    return out_path, span
