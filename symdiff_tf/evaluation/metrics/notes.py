"""Note arrays: the one input format of the note-level metrics.

A note array is a float64 numpy array of shape [num_notes, 3] with columns (MIDI pitch, start seconds, end
seconds), sorted by start time. `as_note_array` makes one from a NoteSequence, a MIDI file path or an array-like,
so every metric accepts any of the three. No TensorFlow here; note_seq is imported only to read MIDI files.
"""
import os
import pathlib

import numpy as np

PITCH, START, END = 0, 1, 2


def as_note_array(piece) -> np.ndarray:
    """Returns the notes of `piece` as a [num_notes, 3] array (pitch, start s, end s), sorted by start.

    Args:
        piece: a NoteSequence (anything with `.notes` whose items have `pitch`, `start_time`, `end_time`;
            drum notes are dropped), a path to a MIDI file (str or os.PathLike), or an array-like of shape
            [num_notes, 3].

    Raises:
        ValueError: naming the input, if it is none of these or holds a note that ends before it starts.
    """
    if isinstance(piece, (str, os.PathLike)):
        notes = _read_midi(pathlib.Path(piece))
        where = str(piece)
    elif hasattr(piece, "notes"):
        notes = np.array(
            [(n.pitch, n.start_time, n.end_time) for n in piece.notes if not getattr(n, "is_drum", False)],
            dtype=np.float64,
        ).reshape(-1, 3)
        where = "NoteSequence"
    else:
        notes = np.asarray(piece, dtype=np.float64)
        where = f"note array of shape {notes.shape}"
        if notes.size == 0:
            notes = notes.reshape(0, 3)
        if notes.ndim != 2 or notes.shape[1] != 3:
            raise ValueError(f"{where}: expected shape [num_notes, 3] with columns (pitch, start s, end s)")
    if not np.all(np.isfinite(notes)):
        raise ValueError(f"{where}: notes must be finite numbers")
    if np.any(notes[:, END] < notes[:, START]):
        raise ValueError(f"{where}: a note ends before it starts")
    order = np.argsort(notes[:, START], kind="stable")
    return notes[order]


def _read_midi(path: pathlib.Path) -> np.ndarray:
    if not path.is_file():
        raise ValueError(f"{path}: no such MIDI file")
    import note_seq  # slow import (librosa); only needed for files

    try:
        sequence = note_seq.midi_file_to_note_sequence(str(path))
    except Exception as err:  # note_seq raises several types for bad files
        raise ValueError(f"{path}: not a readable MIDI file: {err}") from err
    return as_note_array(sequence)


def trim_notes(notes: np.ndarray, start_seconds: float, end_seconds: float) -> np.ndarray:
    """The notes whose onset lies in [start_seconds, end_seconds), their ends cut at end_seconds.

    Same rule as note_seq's `trim_note_sequence`, which the original's framewise helper used. Times stay absolute.
    Shapes: [num_notes, 3] -> [num_kept, 3].
    """
    onsets = notes[:, START]
    kept = notes[(onsets >= start_seconds) & (onsets < end_seconds)].copy()
    kept[:, END] = np.minimum(kept[:, END], end_seconds)
    return kept
