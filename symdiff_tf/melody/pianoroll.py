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
