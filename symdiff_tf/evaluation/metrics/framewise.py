"""Framewise self-similarity (paper §4.4, Eq. 9–10): overlapping area of pitch and duration Gaussians of
adjacent frames, pooled over a set of pieces, and related to a ground-truth set.

Frames are 4 bars long with a 2-bar hop; at 120 qpm (the decoder's tempo) that is 8 s frames with a 4 s hop.
Frame k covers [k·hop, k·hop + frame); a note belongs to the frame its onset lies in, its end cut at the frame
end (note_seq's `trim_note_sequence`, as the original). Frame starts run 0, hop, 2·hop, … while
start < total − hop, with total = ceil(length) by default (the original: a NoteSequence's `total_time`; the
last note end for MIDI files and arrays), so a full 64-bar piece (128 s) gives 31 frames and 30 adjacent pairs.
Pass `total_seconds=128.0` to fix the length (trailing silence counts too).

Per frame: mean and population variance of the MIDI pitches, and of the durations (end − start, seconds).
An empty frame has no notes; `empty_frames="zero"` (default, the original's convention) gives it mean 0 and
variance 0, a point mass at 0, so with the exact OA two empty frames in a row score 1 and an empty frame next to
a sounding one scores 0; `empty_frames="skip"` drops every pair that touches an empty frame.

Everything here works on anything `symdiff_tf.evaluation.metrics.notes.as_note_array` accepts (NoteSequences, MIDI file
paths, [num_notes, 3] arrays).
"""
import dataclasses
import math

import numpy as np

from symdiff_tf.evaluation.metrics.notes import END, PITCH, START, as_note_array, trim_notes
from symdiff_tf.evaluation.metrics.overlap import overlap_function

EMPTY_FRAME_RULES = ("zero", "skip")


def bars_to_seconds(bars: float, qpm: float = 120.0, beats_per_bar: int = 4) -> float:
    """Length of `bars` bars in seconds at `qpm` quarter notes per minute (4/4 by default)."""
    return bars * beats_per_bar * 60.0 / qpm


@dataclasses.dataclass(frozen=True)
class FrameSpec:
    """How pieces are cut into frames, in seconds. Defaults: the paper's 4-bar frames, 2-bar hop at 120 qpm."""

    frame_seconds: float = 8.0
    hop_seconds: float = 4.0
    total_seconds: float | None = None  # None: ceil of the piece's length, as the original

    def frame_starts(self, length_seconds: float) -> np.ndarray:
        """Start times in seconds, [num_frames], for a piece `length_seconds` long (used when `total_seconds`
        is None)."""
        if self.frame_seconds <= 0 or self.hop_seconds <= 0:
            raise ValueError(f"{self}: frame and hop must be positive")
        total = math.ceil(length_seconds) if self.total_seconds is None else self.total_seconds
        return np.arange(0.0, total - self.hop_seconds, self.hop_seconds)


def piece_seconds(piece, notes: np.ndarray) -> float:
    """Length of a piece: a NoteSequence's `total_time` (what the original used), at least its last note end;
    the last note end for files and arrays."""
    last_end = float(notes[:, END].max()) if len(notes) else 0.0
    return max(float(getattr(piece, "total_time", 0.0)), last_end) if hasattr(piece, "notes") else last_end


def frame_gaussians(piece, spec: FrameSpec = FrameSpec()) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame Gaussians of one piece.

    Returns:
        stats: float64 [num_frames, 4], columns (pitch mean, pitch variance, duration mean s, duration variance s²);
            zeros for an empty frame.
        empty: bool [num_frames], True where the frame has no note.
    """
    notes = as_note_array(piece)
    starts = spec.frame_starts(piece_seconds(piece, notes))
    stats = np.zeros((len(starts), 4))
    empty = np.zeros(len(starts), dtype=bool)
    for k, start in enumerate(starts):
        frame = trim_notes(notes, start, start + spec.frame_seconds)
        if len(frame) == 0:
            empty[k] = True
            continue
        durations = frame[:, END] - frame[:, START]
        stats[k] = (frame[:, PITCH].mean(), frame[:, PITCH].var(), durations.mean(), durations.var())
    return stats, empty


def adjacent_overlaps(
    piece,
    spec: FrameSpec = FrameSpec(),
    formula: str = "exact",
    empty_frames: str = "zero",
    min_variance: tuple[float, float] = (0.0, 0.0),
) -> tuple[np.ndarray, np.ndarray]:
    """OA of frames (k, k+1) for pitch and for duration, over one piece.

    Args:
        piece: NoteSequence, MIDI path or [num_notes, 3] note array.
        spec: frame length, hop and total length in seconds.
        formula: "exact" (`overlapping_area`) or "original" (the released code's formula, wrong for equal
            variances; use it to compare with the paper's tables).
        empty_frames: "zero" (mean 0, variance 0; the original) or "skip" (drop pairs touching an empty frame).
        min_variance: floors (pitch in semitones², duration in s²) applied to every frame variance before the
            OA; (0, 0) by default. E.g. (1/12, 0.125²/12) treats each value as spread over its quantisation step.

    Returns:
        (pitch_oa, duration_oa), float64 arrays of shape [num_pairs].
    """
    if empty_frames not in EMPTY_FRAME_RULES:
        raise ValueError(f"empty_frames={empty_frames!r}: expected one of {EMPTY_FRAME_RULES}")
    overlap = overlap_function(formula)
    stats, empty = frame_gaussians(piece, spec)
    stats[:, 1] = np.maximum(stats[:, 1], min_variance[0])
    stats[:, 3] = np.maximum(stats[:, 3], min_variance[1])
    pitch_oa, duration_oa = [], []
    for k in range(len(stats) - 1):
        if empty_frames == "skip" and (empty[k] or empty[k + 1]):
            continue
        a, b = stats[k], stats[k + 1]
        pitch_oa.append(overlap(a[0], a[1], b[0], b[1]))
        duration_oa.append(overlap(a[2], a[3], b[2], b[3]))
    return np.asarray(pitch_oa, dtype=np.float64), np.asarray(duration_oa, dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class OverlapStatistics:
    """Mean and population variance of the adjacent-frame OA pooled over all pairs of all pieces (Table 2)."""

    pitch_oa_mean: float
    pitch_oa_var: float
    duration_oa_mean: float
    duration_oa_var: float
    num_pairs: int
    num_pieces: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def overlap_statistics(pieces, progress: bool = False, **options) -> OverlapStatistics:
    """Pools `adjacent_overlaps` over a set of pieces (paper §4.4: μ_OA and σ²_OA).

    Args:
        pieces: iterable of NoteSequences, MIDI paths or note arrays.
        progress: show a tqdm bar.
        **options: `spec`, `formula`, `empty_frames`, `min_variance` as in `adjacent_overlaps`.

    Raises:
        ValueError: if the set has no adjacent frame pair at all.
    """
    pieces = list(pieces)
    if progress:
        import tqdm

        pieces = tqdm.tqdm(pieces, desc="framewise OA", unit="piece")
    per_piece = [adjacent_overlaps(piece, **options) for piece in pieces]
    pitch = [pitch_oa for pitch_oa, _ in per_piece]
    duration = [duration_oa for _, duration_oa in per_piece]
    pitch = np.concatenate(pitch) if pitch else np.zeros(0)
    duration = np.concatenate(duration) if duration else np.zeros(0)
    if len(pitch) == 0:
        raise ValueError(f"overlap_statistics: the {len(pieces)} piece(s) give no pair of adjacent frames")
    return OverlapStatistics(
        pitch_oa_mean=float(pitch.mean()),
        pitch_oa_var=float(pitch.var()),
        duration_oa_mean=float(duration.mean()),
        duration_oa_var=float(duration.var()),
        num_pairs=len(pitch),
        num_pieces=len(pieces),
    )


def relative_similarity(value: float, ground_truth: float) -> float:
    """max(0, 1 − |value − ground_truth| / |ground_truth|) (paper Eq. 10); NaN if the ground truth is 0."""
    if ground_truth == 0:
        return float("nan")
    return max(0.0, 1.0 - abs(value - ground_truth) / abs(ground_truth))


def consistency_and_variance(stats: OverlapStatistics, ground_truth: OverlapStatistics) -> dict:
    """Table 1 for one row: pitch/duration consistency (from OA means) and variance (from OA variances)."""
    return {
        "pitch_consistency": relative_similarity(stats.pitch_oa_mean, ground_truth.pitch_oa_mean),
        "pitch_variance": relative_similarity(stats.pitch_oa_var, ground_truth.pitch_oa_var),
        "duration_consistency": relative_similarity(stats.duration_oa_mean, ground_truth.duration_oa_mean),
        "duration_variance": relative_similarity(stats.duration_oa_var, ground_truth.duration_oa_var),
    }


def table1_standard_errors(pieces, ground_truth: OverlapStatistics, num_resamples: int = 200, seed: int = 0,
                           **options) -> dict:
    """Bootstrap standard errors of a set's four Table 1 numbers: the pieces resampled with replacement
    `num_resamples` times, the pooled OA mean and variance and Eq. 10 recomputed each time, the ground truth held
    fixed. How far two rows' numbers may differ by sampling alone (for independent rows, √(se₁² + se₂²)).

    Returns {"pitch_consistency": se, "pitch_variance": se, "duration_consistency": se, "duration_variance": se}
    (NaN where the ground-truth value is 0)."""
    per_piece = [adjacent_overlaps(piece, **options) for piece in pieces]
    # per piece: pairs, Σ OA, Σ OA² for pitch and for duration; a resample's pooled sums are counts @ sums
    sums = np.array([[len(p), p.sum(), np.square(p).sum(), d.sum(), np.square(d).sum()] for p, d in per_piece])
    counts = np.random.default_rng(seed).multinomial(len(per_piece), np.full(len(per_piece), 1.0 / len(per_piece)),
                                                     size=num_resamples)
    pooled = counts @ sums
    pairs = np.maximum(pooled[:, 0], 1.0)
    pitch_mean, duration_mean = pooled[:, 1] / pairs, pooled[:, 3] / pairs
    resampled = {"pitch_consistency": (pitch_mean, ground_truth.pitch_oa_mean),
                 "pitch_variance": (pooled[:, 2] / pairs - pitch_mean ** 2, ground_truth.pitch_oa_var),
                 "duration_consistency": (duration_mean, ground_truth.duration_oa_mean),
                 "duration_variance": (pooled[:, 4] / pairs - duration_mean ** 2, ground_truth.duration_oa_var)}
    return {name: float(np.std([relative_similarity(v, truth) for v in values]))
            for name, (values, truth) in resampled.items()}


def framewise_metrics(pieces, ground_truth, **options) -> dict:
    """The eight framewise numbers of one table row: Table 1's consistency/variance relative to `ground_truth`
    and Table 2's raw OA mean/variance of `pieces`.

    Args:
        pieces: the set to score (iterable of NoteSequences, MIDI paths or note arrays).
        ground_truth: an `OverlapStatistics` (computed once, e.g. on the training set) or a set of pieces.
        **options: as in `overlap_statistics`; the same options are used for a ground-truth set of pieces.

    Returns:
        dict with keys pitch_consistency, pitch_variance, duration_consistency, duration_variance,
        pitch_oa_mean, pitch_oa_var, duration_oa_mean, duration_oa_var (the `tables.json` metric names).
    """
    if not isinstance(ground_truth, OverlapStatistics):
        ground_truth = overlap_statistics(ground_truth, **options)
    stats = overlap_statistics(pieces, **options)
    row = consistency_and_variance(stats, ground_truth)
    row.update(
        pitch_oa_mean=stats.pitch_oa_mean,
        pitch_oa_var=stats.pitch_oa_var,
        duration_oa_mean=stats.duration_oa_mean,
        duration_oa_var=stats.duration_oa_var,
    )
    return row
