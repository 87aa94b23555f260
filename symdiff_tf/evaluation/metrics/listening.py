"""Listening measures: does a 64-bar melody hold its song's key, register, density and repetition?

Table 1 compares pitch and duration statistics of adjacent frames, which a melody can satisfy while drifting out
of key or away from its song. These measures compare the *gap* bars of a piece (bars 17-48 by default, the bars
that infilling regenerates) with the *kept* bars around them, and the piece's two halves with each other:

- `in_key_share`: share of the gap's notes whose pitch class lies in the key of the kept bars. A key is a major
  scale (its relative minor has the same pitch classes); the kept bars' key is the one holding most of their notes
  (ties: the share is averaged over the tied keys);
- `register_distance`: |mean MIDI pitch of the gap's notes − mean pitch of the kept bars' notes|, semitones;
- `density_ratio`: notes per bar in the gap / notes per bar in the kept bars;
- `key_coverage`: share of all the piece's notes that fit its best key (one key over the 64 bars);
- `halves_share_key`: 1.0 when the first and second half have a best key in common (ties count), else 0.0;
- `longest_repetition`: `note_stats.longest_repetition`, bars;
- for infilling, against the song (`infill_measures`): `repetition_f1`, the note-onset F1 of the gap bars where
  the song repeats an earlier section (`repeated_gap_bars`), and `repeated_bars`, how many such bars.

Notes are onsets on `note_stats`' grid (120 qpm, sixteenth-note steps, 16 per bar): a piece is anything
`as_note_array` reads, `total_bars` long. Bars are counted from 0 here: `gap=(16, 48)` is bars 17-48 one-based.
Definitions and why: docs/metrics.md, "Listening measures". numpy only.
"""
from __future__ import annotations

import numpy as np

from symdiff_tf.evaluation.metrics.note_stats import (
    BAR_SECONDS,
    STEPS_PER_BAR,
    longest_repetition,
    step_tokens,
)
from symdiff_tf.evaluation.metrics.notes import as_note_array

TOTAL_BARS = 64  # a window of 32 two-bar chunks
DEFAULT_GAP = (16, 48)  # bars 17-48 one-based: what `symdiff infill --bars 17-48` regenerates
MIN_SECTION_BARS = 4  # a repeated section is at least a 4-bar phrase
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
# KEYS[k, pc]: pitch class pc is in the major scale on tonic k (= the natural minor on k + 9)
KEYS = np.zeros((12, 12), bool)
for _tonic in range(12):
    KEYS[_tonic, [(_tonic + step) % 12 for step in MAJOR_SCALE]] = True


def onsets(piece, total_bars: int = TOTAL_BARS) -> tuple[np.ndarray, np.ndarray]:
    """The note onsets of `piece` within `total_bars`: (step from the piece's start, MIDI pitch), int64 `[n]`
    each, in time order (a monophonic reading: `note_stats.step_tokens`)."""
    tokens = step_tokens(as_note_array(piece), total_seconds=total_bars * BAR_SECONDS)
    steps = np.flatnonzero(tokens >= 0)
    return steps, tokens[steps]


def key_counts(pitches) -> np.ndarray:
    """How many of `pitches` (MIDI, `[n]`) each key holds: int64 `[12]`, index = the major tonic's pitch class."""
    histogram = np.bincount(np.asarray(pitches, np.int64) % 12, minlength=12)
    return KEYS.astype(np.int64) @ histogram


def best_keys(pitches) -> np.ndarray:
    """The keys (major tonics, int64 `[m]`) that hold the most of `pitches`; all 12 for no pitches."""
    counts = key_counts(pitches)
    return np.flatnonzero(counts == counts.max())


def key_coverage(pitches) -> float:
    """Share of `pitches` in their best key, in [7/12, 1]; NaN for no pitches."""
    return float(key_counts(pitches).max() / len(pitches)) if len(pitches) else float("nan")


def in_key_share(pitches, context_pitches) -> float:
    """Share of `pitches` in the best key of `context_pitches` (averaged over tied keys); NaN if either is
    empty."""
    pitches = np.asarray(pitches, np.int64)
    if not len(pitches) or not len(context_pitches):
        return float("nan")
    return float(KEYS[best_keys(context_pitches)][:, pitches % 12].mean())


def _check_gap(gap, total_bars: int) -> tuple[int, int]:
    first, stop = (int(bar) for bar in gap)
    if not 0 < first < stop < total_bars:
        raise ValueError(f"gap {gap}: expected bars (first, stop) with 0 < first < stop < {total_bars}, counted "
                         "from 0, so that kept bars lie on both sides")
    return first, stop


def piece_measures(piece, total_bars: int = TOTAL_BARS, gap=DEFAULT_GAP) -> dict:
    """The measures of one piece: `in_key_share`, `register_distance` (semitones), `density_ratio` of its gap
    bars against its kept bars; `key_coverage`, `halves_share_key`, `longest_repetition` (bars) of the whole.
    Values that need notes where there are none are NaN."""
    first, stop = _check_gap(gap, total_bars)
    steps, pitches = onsets(piece, total_bars)
    in_gap = (steps >= first * STEPS_PER_BAR) & (steps < stop * STEPS_PER_BAR)
    new, kept = pitches[in_gap], pitches[~in_gap]
    kept_density = len(kept) / (total_bars - (stop - first))
    first_half = steps < total_bars // 2 * STEPS_PER_BAR
    halves = [pitches[first_half], pitches[~first_half]]
    return {
        "in_key_share": in_key_share(new, kept),
        "register_distance": float(abs(new.mean() - kept.mean())) if len(new) and len(kept) else float("nan"),
        "density_ratio": len(new) / (stop - first) / kept_density if kept_density else float("nan"),
        "key_coverage": key_coverage(pitches),
        "halves_share_key": (float(bool(np.intersect1d(*[best_keys(h) for h in halves]).size))
                             if all(len(h) for h in halves) else float("nan")),
        "longest_repetition": longest_repetition(as_note_array(piece), total_seconds=total_bars * BAR_SECONDS),
    }


def _bar_onsets(steps, pitches, total_bars: int) -> list[frozenset]:
    """Per bar, the set of (step in bar, pitch) onsets."""
    bars = [set() for _ in range(total_bars)]
    for step, pitch in zip(steps.tolist(), pitches.tolist()):
        bars[step // STEPS_PER_BAR].add((step % STEPS_PER_BAR, pitch))
    return [frozenset(bar) for bar in bars]


def repeated_gap_bars(song, total_bars: int = TOTAL_BARS, gap=DEFAULT_GAP,
                      min_section_bars: int = MIN_SECTION_BARS) -> np.ndarray:
    """Which gap bars of `song` repeat an earlier section: bool `[total_bars]`, true for a gap bar inside a run of
    at least `min_section_bars` consecutive gap bars that each have notes and equal (same onset steps and
    pitches) the bars a fixed distance earlier, all of which lie in the kept bars before the gap."""
    first, stop = _check_gap(gap, total_bars)
    bars = _bar_onsets(*onsets(song, total_bars), total_bars)
    repeated = np.zeros(total_bars, bool)
    for shift in range(1, stop):
        match = np.array([b - shift >= 0 and b - shift < first and bool(bars[b]) and bars[b] == bars[b - shift]
                          for b in range(first, stop)] + [False])
        run_start = None
        for offset, matched in enumerate(match):
            if matched and run_start is None:
                run_start = offset
            elif not matched and run_start is not None:
                if offset - run_start >= min_section_bars:
                    repeated[first + run_start:first + offset] = True
                run_start = None
    return repeated


def onset_f1(piece, reference, bars_mask, total_bars: int = TOTAL_BARS) -> float:
    """Note-onset F1 of `piece` against `reference` over the bars where `bars_mask` `[total_bars]` is true: an
    onset is right when the reference has the same pitch at the same step. NaN when the mask is empty; 0 when
    neither has notes there."""
    bars_mask = np.asarray(bars_mask, bool)
    if bars_mask.shape != (total_bars,):
        raise ValueError(f"bars_mask must have shape ({total_bars},), got {bars_mask.shape}")
    if not bars_mask.any():
        return float("nan")
    found = []
    for item in (piece, reference):
        steps, pitches = onsets(item, total_bars)
        keep = bars_mask[steps // STEPS_PER_BAR]
        found.append(set(zip(steps[keep].tolist(), pitches[keep].tolist())))
    right = len(found[0] & found[1])
    total = len(found[0]) + len(found[1])
    return 2.0 * right / total if total else 0.0


def infill_measures(infilled, song, total_bars: int = TOTAL_BARS, gap=DEFAULT_GAP,
                    min_section_bars: int = MIN_SECTION_BARS) -> dict:
    """`piece_measures(infilled)` plus `repetition_f1` (`onset_f1` of the infilled gap against the song's own
    bars, over `repeated_gap_bars(song)`; NaN when the song repeats no section there) and `repeated_bars`."""
    repeated = repeated_gap_bars(song, total_bars, gap, min_section_bars)
    return {**piece_measures(infilled, total_bars, gap),
            "repetition_f1": onset_f1(infilled, song, repeated, total_bars),
            "repeated_bars": float(repeated.sum())}


def listening_rows(pieces, songs=None, total_bars: int = TOTAL_BARS, gap=DEFAULT_GAP,
                   min_section_bars: int = MIN_SECTION_BARS) -> dict:
    """Means of the measures over a set of 64-bar pieces: `piece_measures` of each, or with `songs` (the
    original of each piece, same order) `infill_measures`. Each mean leaves out the pieces where the measure is
    NaN (no notes where it needs some, no repeated section), and `<name>_count` says how many it averaged;
    `pieces` is the size of the set."""
    pieces = list(pieces)
    if not pieces:
        raise ValueError("listening_rows: no pieces")
    if songs is not None:
        songs = list(songs)
        if len(songs) != len(pieces):
            raise ValueError(f"listening_rows: {len(pieces)} pieces but {len(songs)} songs; expected one song per "
                             "piece")
        rows = [infill_measures(piece, song, total_bars, gap, min_section_bars) for piece, song in zip(pieces, songs)]
    else:
        rows = [piece_measures(piece, total_bars, gap) for piece in pieces]
    result = {"pieces": len(rows)}
    for key in rows[0]:
        values = np.asarray([row[key] for row in rows], np.float64)
        defined = values[~np.isnan(values)]
        result[key] = float(defined.mean()) if defined.size else float("nan")
        result[f"{key}_count"] = int(defined.size)
    return result


def window_notes(tokens, continuous: bool = True) -> np.ndarray:
    """A window of chunks, tokens `[n_chunks, 32]`, as a note array `[n, 3]` (MIDI pitch, start s, end s at
    120 qpm) by `render.tokens_to_notes`: with `continuous` (a melody's own chunks) a note held over a chunk
    boundary carries on; without (chunks decoded one by one, as the bundle renders them) it ends there. Onsets, and
    so every measure but `longest_repetition`, are the same either way."""
    from symdiff_tf.melody.render import SECONDS_PER_STEP, tokens_to_notes

    starts, ends, pitches = tokens_to_notes(tokens, continuous=continuous)
    return np.stack([pitches, starts * SECONDS_PER_STEP, ends * SECONDS_PER_STEP], axis=1).astype(np.float64)
