"""Melodies longer than the model's window: regenerate or sample bar spans window by window.

The model sees windows of 64 bars (32 chunks of 2 bars). A span of bars to regenerate that fits in one window gets
one window, placed so that the span has the most known bars around it (`place_window`). A longer span is done in
several windows, each conditioned on the bars already there: a window keeps up to `context_bars` known bars
before the span's next bar and regenerates the rest of the window; the last window is placed like a single one,
so it also sees the song's bars after the span. Kept bars are never written back, so they stay exactly what they
were across every seam. `symdiff sample --bars N` is the span 0..N-1 of an empty song: its first window is
sampled unconditionally.

The model is reached through two callables (whatever runs it):
- `sample_windows(seeds int32 [B]) -> tokens int [B, 32, 32]`;
- `infill_windows(tokens int [B, 32, 32], keep_bars bool [B, 64], seeds int32 [B]) -> tokens int [B, 32, 32]`,
  the kept bars' tokens coming back as given.
Tokens are `chunks` classes; a window's chunks are rendered one by one (`render.tokens_to_notes(continuous=
False)`): a generated note sounding at a chunk's end ends there. Songs are held as steps `[n_bars, 16]` rendered
continuously (`song_grid.steps_of_notes`). Bars here are 0-based model bars.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from symdiff_tf.melody.chunks import STEPS_PER_BAR, STEPS_PER_CHUNK, clean_leading_note_offs
from symdiff_tf.melody.render import tokens_to_notes
from symdiff_tf.melody.song_grid import notes_of_steps, steps_of_notes

WINDOW_BARS = 64
CONTEXT_BARS = 32
# window j > 0 of a melody with seed s draws with seed (s + j * SEED_STRIDE) mod 2^31 (window 0 uses s itself)
SEED_STRIDE = 1_000_003


@dataclasses.dataclass(frozen=True)
class Window:
    """One window: model bars start..start+63; bars first..last (inclusive) are regenerated, the others kept."""

    start: int
    first: int
    last: int

    def keep_bars(self, window_bars: int = WINDOW_BARS) -> np.ndarray:
        """bool `[window_bars]`: True for the window's kept bars."""
        bars = self.start + np.arange(window_bars)
        return (bars < self.first) | (bars > self.last)


def place_window(first: int, last: int, known_after: int, window_bars: int = WINDOW_BARS) -> int:
    """The start bar of the window that regenerates bars first..last with the most known bars around them.

    Known bars: every bar before `first`, and the bars after `last` up to `known_after` (exclusive; the end of
    the song). Among the starts that hold the span (never before bar 0) it maximises the known bars in the
    window, then the smaller of the two sides, then takes the earliest.
    """
    if last - first + 1 > window_bars:
        raise ValueError(f"bars {first}-{last}: {last - first + 1} bars do not fit one window of {window_bars}")
    best = None
    for start in range(max(0, last - window_bars + 1), first + 1):
        before = first - start
        after = max(0, min(start + window_bars, known_after) - (last + 1))
        key = (before + after, min(before, after), -start)
        if best is None or key > best[0]:
            best = (key, start)
    return best[1]


def plan_windows(first: int, last: int, known_after: int, start: int | None = None,
                 context_bars: int = CONTEXT_BARS, window_bars: int = WINDOW_BARS) -> list[Window]:
    """The windows that regenerate bars first..last (0-based, inclusive), in order.

    known_after: bars after `last` that are context, up to this bar (exclusive; the song's end). start: a fixed
    window start for a span of one window (the command's `--start-bar`); ValueError if the span is not inside it
    or is longer than a window. context_bars: known bars kept before the next bar in each further window.
    """
    if not 0 <= first <= last:
        raise ValueError(f"bars {first}-{last}: expected 0 <= first <= last")
    if not 0 < context_bars < window_bars:
        raise ValueError(f"context of {context_bars} bars: expected 1..{window_bars - 1}")
    if start is not None:
        if not start <= first <= last < start + window_bars:
            raise ValueError(f"bars {first + 1}-{last + 1} are not inside the window of model bars {start + 1}-"
                             f"{start + window_bars} (one window holds {window_bars} bars)")
        return [Window(start, first, last)]
    windows = []
    cursor = first
    while True:
        context = 0 if not windows else min(context_bars, cursor)
        if last - cursor + 1 <= window_bars - context:
            windows.append(Window(place_window(cursor, last, known_after, window_bars), cursor, last))
            return windows
        window_start = cursor - min(context_bars, cursor)
        windows.append(Window(window_start, cursor, window_start + window_bars - 1))
        cursor = window_start + window_bars


def window_seeds(seeds, index: int) -> np.ndarray:
    """int32 `[B]`: the seeds of window `index` (window 0: `seeds` themselves; see `SEED_STRIDE`)."""
    seeds = np.asarray(seeds, np.int64)
    return (seeds if index == 0 else (seeds + index * SEED_STRIDE) % 2**31).astype(np.int32)


def window_tokens(steps, start: int, window_bars: int = WINDOW_BARS) -> np.ndarray:
    """The model's tokens of the window at bar `start`: int32 `[B, window_bars / 2, 32]` from steps
    `[B, n_bars, 16]` (which must reach the window's end), each chunk as the training data holds it (note offs
    before its first onset dropped, `chunks.clean_leading_note_offs`)."""
    steps = np.asarray(steps)
    window = steps[:, start:start + window_bars]
    if window.shape[1] != window_bars:
        raise ValueError(f"the window at bar {start} needs {start + window_bars} bars, the melody has "
                         f"{steps.shape[1]}")
    chunks = window.reshape(len(steps), window_bars // 2, STEPS_PER_CHUNK)
    return clean_leading_note_offs(chunks).astype(np.int32)


def paste_window(steps, tokens, window: Window, song_steps) -> np.ndarray:
    """One melody's steps `[n_bars, 16]` with bars window.first..window.last replaced by the window's generated
    notes (tokens `[32, 32]`, chunks rendered one by one). A note sounding into the span from before it ends at
    its first bar; generated notes end at the span's end. song_steps: int `[n_bars]` (`steps_of_notes`)."""
    span_start, span_end = window.first * STEPS_PER_BAR, (window.last + 1) * STEPS_PER_BAR
    starts, ends, pitches = notes_of_steps(steps)
    outside = (starts < span_start) | (starts >= span_end)
    starts, ends, pitches = starts[outside], ends[outside], pitches[outside]
    ends = np.where(starts < span_start, np.minimum(ends, span_start), ends)
    new_starts, new_ends, new_pitches = tokens_to_notes(tokens, continuous=False)
    offset = window.start * STEPS_PER_BAR
    new_starts, new_ends = new_starts + offset, np.minimum(new_ends + offset, span_end)
    inside = (new_starts >= span_start) & (new_starts < span_end)
    return steps_of_notes(np.concatenate([starts, new_starts[inside]]), np.concatenate([ends, new_ends[inside]]),
                          np.concatenate([pitches, new_pitches[inside]]), song_steps)


def run_windows(windows: list[Window], steps, seeds, infill_windows, sample_windows=None, song_steps=None,
                progress: str | None = None) -> np.ndarray:
    """Runs `windows` in order on the melodies `steps` int `[B, n_bars, 16]` (one per seed; bars past n_bars are
    silent), each window regenerating its bars from what the previous ones left. Returns int32 `[B, n_out, 16]`,
    n_out = max(n_bars, the last window's end). A window with no kept bar is sampled (`sample_windows`, required
    then), the others infilled. song_steps: int `[n]` steps per bar that the song holds (bars past it, or all
    bars when None: 16).
    progress: a tqdm description (None: no bar).
    """
    import tqdm

    seeds = np.asarray(seeds, np.int32)
    steps = np.asarray(steps, np.int32)
    n_out = max([steps.shape[1]] + [window.start + WINDOW_BARS for window in windows])
    melodies = np.zeros((len(seeds), n_out, STEPS_PER_BAR), np.int32)
    melodies[:, :steps.shape[1]] = steps
    full_bars = np.full(n_out, STEPS_PER_BAR)
    if song_steps is not None:
        full_bars[:len(song_steps)] = np.asarray(song_steps)[:n_out]
    for index, window in enumerate(tqdm.tqdm(windows, desc=progress, unit="window", disable=progress is None)):
        keep = window.keep_bars()
        batch_seeds = window_seeds(seeds, index)
        if keep.any():
            tokens = window_tokens(melodies, window.start)
            out = infill_windows(tokens, np.repeat(keep[None], len(seeds), axis=0), batch_seeds)
        elif sample_windows is None:
            raise ValueError(f"window at bar {window.start + 1} keeps no bar: sampling it needs sample_windows")
        else:
            out = sample_windows(batch_seeds)
        out = np.asarray(out)
        if out.shape != (len(seeds), WINDOW_BARS // 2, STEPS_PER_CHUNK):
            raise ValueError(f"the model gave tokens of shape {out.shape}, expected "
                             f"{(len(seeds), WINDOW_BARS // 2, STEPS_PER_CHUNK)}")
        for item in range(len(seeds)):
            melodies[item] = paste_window(melodies[item], out[item], window, full_bars)
    return melodies
