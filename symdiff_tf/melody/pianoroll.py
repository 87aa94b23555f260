"""Piano-roll PNGs of 2-bar melody tokens (matplotlib, Agg backend; no display needed).

x axis in bars (4/4, 16 steps per bar), y axis in MIDI pitch. Thin lines mark bars, thick lines the 2-bar chunk
boundaries; rest chunks (the ones the original encoded as zero latents) are shaded.
"""
from __future__ import annotations

import math
import os

import numpy as np

from symdiff_tf.melody.chunks import STEPS_PER_BAR, STEPS_PER_CHUNK
from symdiff_tf.melody.render import as_tokens, tokens_to_notes

BARS_PER_CHUNK = STEPS_PER_CHUNK // STEPS_PER_BAR


def draw_melody(ax, tokens, rests=None, title: str | None = None, continuous: bool = False) -> None:
    """Draws one melody, tokens `[n_chunks, 32]`, on a matplotlib Axes.

    rests: optional bool `[n_chunks]`, shaded chunks. continuous: how notes are joined across chunks
    (see `render`).
    """
    from matplotlib.collections import PolyCollection

    tokens = as_tokens(tokens)
    n_chunks = tokens.shape[0]
    n_bars = n_chunks * BARS_PER_CHUNK
    if rests is not None:
        for chunk in np.flatnonzero(np.asarray(rests, bool)):
            ax.axvspan(chunk * BARS_PER_CHUNK, (chunk + 1) * BARS_PER_CHUNK, color="0.88", zorder=0, lw=0)
    starts, ends, pitches = tokens_to_notes(tokens, continuous)
    x0, x1 = starts / STEPS_PER_BAR, ends / STEPS_PER_BAR
    y0, y1 = pitches - 0.4, pitches + 0.4
    boxes = np.stack([np.stack([x0, y0], -1), np.stack([x0, y1], -1), np.stack([x1, y1], -1),
                      np.stack([x1, y0], -1)], axis=1)  # [n_notes, 4 corners, (x, y)]
    ax.add_collection(PolyCollection(boxes, facecolors="tab:blue", edgecolors="navy", linewidths=0.4, zorder=2))
    low, high = (int(pitches.min()) - 2, int(pitches.max()) + 2) if len(pitches) else (58, 72)
    bars = np.arange(n_bars + 1)
    chunk_lines = bars % BARS_PER_CHUNK == 0
    ax.vlines(bars[~chunk_lines], low - 0.5, high + 0.5, colors="0.75", lw=0.5, zorder=1)
    ax.vlines(bars[chunk_lines], low - 0.5, high + 0.5, colors="0.35", lw=1.1, zorder=1)
    ax.set_xlim(0, max(n_bars, 1))
    ax.set_ylim(low - 0.5, high + 0.5)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("bar")
    ax.set_ylabel("MIDI pitch")
    ax.set_xticks(range(0, n_bars + 1, max(BARS_PER_CHUNK, BARS_PER_CHUNK * (n_bars // 32))))
    if title:
        ax.set_title(title, fontsize=10)


def save_pianoroll(path, tokens, rests=None, title: str | None = None, continuous: bool = False):
    """Writes the piano roll of one melody (tokens `[n_chunks, 32]`) to the PNG at `path`; returns `path`."""
    return save_pianoroll_grid(path, [tokens], rests=None if rests is None else [rests],
                               titles=[title], columns=1, continuous=continuous)


def save_pianoroll_grid(path, melodies, rests=None, titles=None, title: str | None = None, columns: int = 2,
                        continuous: bool = False):
    """Writes several melodies (a list of tokens `[n_chunks_i, 32]`) as a grid of piano rolls to `path`.

    rests, titles: optional lists with one entry per melody; title: figure title. Returns `path`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not len(melodies):
        raise ValueError("no melody to draw")
    columns = min(columns, len(melodies))
    rows = math.ceil(len(melodies) / columns)
    longest_bars = max(as_tokens(m).shape[0] for m in melodies) * BARS_PER_CHUNK
    width = min(max(6.0, 0.22 * longest_bars + 1.5), 30.0) * columns
    height = 2.8 * rows + (0.4 if title else 0)
    figure, axes = plt.subplots(rows, columns, figsize=(width, height), squeeze=False)
    # fixed margins in inches (tight_layout costs a quarter of the drawing time)
    figure.subplots_adjust(left=0.75 / width, right=1 - 0.2 / width, bottom=0.55 / height,
                           top=1 - (0.35 + (0.4 if title else 0)) / height, wspace=0.9 * columns / width,
                           hspace=0.5)
    for i, ax in enumerate(axes.flat):
        if i >= len(melodies):
            ax.set_visible(False)
            continue
        draw_melody(ax, melodies[i], rests=None if rests is None else rests[i],
                    title=None if titles is None else titles[i], continuous=continuous)
    if title:
        figure.suptitle(title)
    figure.savefig(os.fspath(path), dpi=100)
    plt.close(figure)
    return path


def save_song_pianoroll(path, midi_path, melody_track: str | None, new_spans=(), title: str | None = None):
    """Writes the piano roll of a whole song (the MIDI file at `midi_path`) to the PNG at `path`; returns `path`.

    The melody (the notes of `melody_track`; None: the one track with notes) is drawn in blue, every other
    track's notes faintly in grey behind it. new_spans: (first tick, end tick) pairs of regenerated bars, shaded,
    their melody notes drawn in orange. x axis: the song's own bars (`song_grid.SongGrid`, numbered from 1 by its
    time signatures), positioned in quarter notes; y axis: MIDI pitch.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from symdiff_tf.melody.midi_io import read_midi
    from symdiff_tf.melody.song_grid import SongGrid, track_rows

    score = read_midi(midi_path)
    grid = SongGrid.from_score(score)
    melody = track_rows(score, melody_track)
    quarters = float(score.ticks_per_quarter)
    x0, x1 = score.start_tick / quarters, score.end_tick / quarters
    new = np.zeros(score.n_notes, bool)
    for first, end in new_spans:
        new |= melody & (score.start_tick >= first) & (score.start_tick < end)
    length = max(float(x1.max(initial=0.0)), grid.bar_tick(grid.song_bars + 1) / quarters)
    width = min(max(8.0, 0.06 * length + 1.5), 60.0)
    figure, ax = plt.subplots(figsize=(width, 4.0))
    figure.subplots_adjust(left=0.75 / width, right=1 - 0.2 / width, bottom=0.14, top=0.9)
    for first, end in new_spans:
        ax.axvspan(first / quarters, end / quarters, color="#ffe0b0", zorder=0, lw=0)

    def boxes(rows):
        y0, y1 = score.pitch[rows] - 0.4, score.pitch[rows] + 0.4
        a, b = x0[rows], x1[rows]
        return np.stack([np.stack([a, y0], -1), np.stack([a, y1], -1), np.stack([b, y1], -1),
                         np.stack([b, y0], -1)], axis=1)

    ax.add_collection(PolyCollection(boxes(~melody), facecolors="0.8", edgecolors="none", zorder=1))
    ax.add_collection(PolyCollection(boxes(melody & ~new), facecolors="tab:blue", edgecolors="navy",
                                     linewidths=0.3, zorder=2))
    ax.add_collection(PolyCollection(boxes(new), facecolors="tab:orange", edgecolors="saddlebrown",
                                     linewidths=0.3, zorder=3))
    pitches = score.pitch if score.n_notes else np.array([58, 72])
    ax.set_ylim(pitches.min() - 2.5, pitches.max() + 2.5)
    ax.set_xlim(0, length)
    last_bar = grid.bar_at_tick(length * quarters - 1)
    every = max(1, int(np.ceil(last_bar / (width * 2.5))))
    numbers = [1] + list(range(every, last_bar + 1, every))[1 if every == 1 else 0:]
    ax.set_xticks([grid.bar_tick(n) / quarters for n in numbers], [str(n) for n in numbers], fontsize=7)
    ax.set_xlabel("bar (the song's own)")
    ax.set_ylabel("MIDI pitch")
    if title:
        ax.set_title(title, fontsize=10)
    figure.savefig(os.fspath(path), dpi=100)
    plt.close(figure)
    return path
