"""scripts/listening_measures.py --transpose-seed: the same songs moved to other keys, their own measures kept."""
import numpy as np

import listening_measures as measures
from symdiff_tf.evaluation.metrics.listening import listening_rows, window_notes
from symdiff_tf.generation.song import song_window


def test_transposed_songs_move_whole_songs_within_range_and_keep_their_measures(pop909_dir):
    songs = [song_window(pop909_dir / name, measures.GAP_BARS, track="MELODY", quantize="beats",
                         chunks=measures.WINDOW_CHUNKS).tokens for name in ("001.mid", "002.mid")]
    moved, shifts = measures.transposed_songs(songs, seed=0)
    assert len(moved) == len(shifts) == 2 and all(shifts)                 # seed 0 moves both songs
    assert measures.transposed_songs(songs, seed=0)[1] == shifts          # seeded
    for original, again, shift in zip(songs, moved, shifts):
        low, high = measures.TRANSPOSE_RANGE
        assert low <= shift <= high
        onsets = original >= 2
        np.testing.assert_array_equal(again[onsets], original[onsets] + shift)
        np.testing.assert_array_equal(again[~onsets], original[~onsets])
    before = listening_rows([window_notes(t) for t in songs], songs=[window_notes(t) for t in songs])
    after = listening_rows([window_notes(t) for t in moved], songs=[window_notes(t) for t in moved])
    for name in ("in_key_share", "register_distance", "density_ratio"):
        assert np.isclose(before[name], after[name])
