"""Note-level statistics beyond the paper, to catch samples that game the framewise metric.

A piece that loops one figure, or holds one pitch, has adjacent frames that overlap almost perfectly and so a
high framewise OA; these numbers expose it: few pitch classes (low entropy), a long exact repetition, many or
few rests. All take a NoteSequence, MIDI path or [num_notes, 3] note array (see `notes.as_note_array`).

Grid: the decoder's 120 qpm, sixteenth-note steps of 0.125 s, bars of 2 s (4/4). The piece length is
`total_seconds` if given (128.0 for a 64-bar window), else the last note end rounded up to a whole bar.
"""
import math

import numpy as np

from symdiff_tf.evaluation.metrics.notes import END, PITCH, START, as_note_array

STEP_SECONDS = 0.125  # a sixteenth note at 120 qpm
BAR_SECONDS = 2.0  # a 4/4 bar at 120 qpm
STEPS_PER_BAR = 16
# Step tokens for `step_tokens`: >= 0 is the MIDI pitch of an onset.
HOLD, REST = -1, -2


def _length_seconds(notes: np.ndarray, total_seconds: float | None) -> float:
    if total_seconds is not None:
        return float(total_seconds)
    if len(notes) == 0:
        return 0.0
    return math.ceil(notes[:, END].max() / BAR_SECONDS - 1e-9) * BAR_SECONDS


def pitch_class_entropy(piece) -> float:
    """Shannon entropy in bits of the 12-bin pitch-class histogram of note onsets, in [0, log2 12 = 3.585].

    0 for a piece of one pitch class; NaN for a piece without notes.
    """
    notes = as_note_array(piece)
    if len(notes) == 0:
        return float("nan")
    counts = np.bincount(notes[:, PITCH].astype(int) % 12, minlength=12)
    shares = counts[counts > 0] / len(notes)
    return float(-(shares * np.log2(shares)).sum())


def note_density(piece, total_seconds: float | None = None) -> float:
    """Note onsets per bar (4/4 at 120 qpm); 0 for an empty piece."""
    notes = as_note_array(piece)
    length = _length_seconds(notes, total_seconds)
    return float(len(notes) / (length / BAR_SECONDS)) if length > 0 else 0.0


def step_tokens(piece, total_seconds: float | None = None) -> np.ndarray:
    """The piece on the sixteenth-note grid, int [num_steps]: the pitch at an onset step, `HOLD` while a note
    sounds, `REST` where none does. Onsets and ends are rounded to the nearest step; a later onset cuts an
    earlier note (monophonic reading; of notes starting on the same step the last one in start order wins)."""
    notes = as_note_array(piece)
    num_steps = int(round(_length_seconds(notes, total_seconds) / STEP_SECONDS))
    tokens = np.full(num_steps, REST, dtype=np.int64)
    for pitch, start, end in notes:
        first = int(round(start / STEP_SECONDS))
        last = max(int(round(end / STEP_SECONDS)), first + 1)
        if first >= num_steps:
            continue
        tokens[first:last] = HOLD
        tokens[first] = int(pitch)
    return tokens


def rest_share(piece, total_seconds: float | None = None) -> float:
    """Share of sixteenth-note steps where no note sounds, in [0, 1]; 1 for an empty piece."""
    tokens = step_tokens(piece, total_seconds)
    return float((tokens == REST).mean()) if len(tokens) else 1.0


def longest_repetition(piece, total_seconds: float | None = None) -> float:
    """Length in bars of the longest stretch of steps that occurs twice (exact step tokens, occurrences may
    overlap). A piece that loops a 2-bar figure for 64 bars gives 62; a piece with no repeated step gives 0.
    Silence counts as material too (read it with `rest_share`)."""
    codes = (step_tokens(piece, total_seconds) - REST).astype(np.uint8)  # rest 0, hold 1, MIDI pitch p: p + 2
    text = codes.tobytes()
    # the longest stretch that occurs twice is the longest common prefix of two suffixes neighbouring in sorted
    # order (a suffix array; overlapping occurrences included)
    order = sorted(range(len(text)), key=lambda start: text[start:])
    best = 0
    for one, other in zip(order, order[1:]):
        length = len(text) - max(one, other)
        if length <= best or text[one:one + best + 1] != text[other:other + best + 1]:
            continue  # this pair cannot share more than `best` steps
        differ = codes[one:one + length] != codes[other:other + length]
        best = int(np.argmax(differ)) if differ.any() else length
    return best / STEPS_PER_BAR



def note_statistics(piece, total_seconds: float | None = None) -> dict:
    """All four statistics of one piece: pitch_class_entropy (bits), note_density (notes/bar), rest_share,
    longest_repetition (bars)."""
    notes = as_note_array(piece)
    return {
        "pitch_class_entropy": pitch_class_entropy(notes),
        "note_density": note_density(notes, total_seconds),
        "rest_share": rest_share(notes, total_seconds),
        "longest_repetition": longest_repetition(notes, total_seconds),
    }


def mean_note_statistics(pieces, total_seconds: float | None = None) -> dict:
    """`note_statistics` averaged over a set. The NaN entropies of empty pieces are left out of that mean; it is
    NaN (without a warning) when every piece is empty."""
    rows = [note_statistics(piece, total_seconds) for piece in pieces]
    if not rows:
        raise ValueError("mean_note_statistics: no pieces")
    means = {}
    for key in rows[0]:
        values = np.asarray([row[key] for row in rows], np.float64)
        defined = values[~np.isnan(values)]
        means[key] = float(defined.mean()) if defined.size else float("nan")
    return means
