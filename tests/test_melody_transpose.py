"""Transposing a melody's 2-bar chunks as a whole (`melody.chunks.transpose_chunks`, `shifts_in_range`): onsets move,
no event and note off stay, rest flags stay, and only shifts that keep every note in MIDI 21..108 are offered."""
import numpy as np
import pytest

from symdiff_tf.melody.chunks import (CLASS_FIRST_PITCH, MAX_PITCH, MIN_PITCH, NUM_CLASSES, rest_chunks,
                                      shifts_in_range, transpose_chunks)


def _class(pitch):
    return CLASS_FIRST_PITCH + pitch - MIN_PITCH


def _melody(*pitches):
    """Two chunks `[2, 32]`: chunk 0 plays `pitches` as quarter notes with a note off, chunk 1 is silent."""
    tokens = np.zeros((2, 32), np.int32)
    for i, pitch in enumerate(pitches):
        tokens[0, 4 * i] = _class(pitch)
    tokens[0, 4 * len(pitches)] = 1
    return tokens


def test_transpose_moves_onsets_only_and_keeps_rests():
    tokens = _melody(60, 64, 67, 72, 60, 62)
    up = transpose_chunks(tokens, 3)
    assert up.shape == tokens.shape and up.dtype == tokens.dtype
    onsets = tokens >= CLASS_FIRST_PITCH
    np.testing.assert_array_equal(up[onsets], tokens[onsets] + 3)
    np.testing.assert_array_equal(up[~onsets], tokens[~onsets])  # no event (0) and note off (1) unchanged
    assert up[0, 4 * 6] == 1
    np.testing.assert_array_equal(rest_chunks(up), rest_chunks(tokens))
    np.testing.assert_array_equal(transpose_chunks(up, -3), tokens)


def test_shifts_keep_every_note_in_range_and_exclude_zero():
    assert shifts_in_range(_melody(60, 72), -6, 5) == [-6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5]
    # the highest note 105 allows +3 at most, the lowest 23 allows -2 at most: the whole melody moves together
    assert shifts_in_range(_melody(23, 60, 105), -6, 5) == [-2, -1, 1, 2, 3]
    assert shifts_in_range(_melody(MIN_PITCH, MAX_PITCH), -6, 5) == []
    assert shifts_in_range(np.zeros((3, 32), np.int32), -6, 5) == []  # no note: every shift would be the same
    for shift in shifts_in_range(_melody(23, 105), -12, 12):
        moved = transpose_chunks(_melody(23, 105), shift)
        assert moved.max() < NUM_CLASSES and moved[moved >= CLASS_FIRST_PITCH].min() >= CLASS_FIRST_PITCH


def test_a_shift_out_of_range_is_refused_not_clipped():
    with pytest.raises(ValueError, match=r"\+4 semitones moves a note out of MIDI 21..108"):
        transpose_chunks(_melody(60, 105), 4)
    with pytest.raises(ValueError, match="-3 semitones"):
        transpose_chunks(_melody(23), -3)
