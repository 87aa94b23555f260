"""Listening measures (`metrics.listening`): keys by hand, and real POP909 melodies changed in ways a listener
hears (a semitone off, an octave up, a silent gap, a shifted repeat)."""
import numpy as np
import pytest

from symdiff_tf.evaluation.metrics import listening, note_stats
from symdiff_tf.melody import file_to_melodies

STEP = note_stats.STEP_SECONDS
C_MAJOR = [60, 62, 64, 65, 67, 69, 71]


def grid_notes(pitches, first_step=0, every=4):
    """Quarter notes (4 steps) of `pitches`, one every `every` steps from `first_step`: a note array."""
    starts = first_step + every * np.arange(len(pitches))
    return np.stack([pitches, starts * STEP, (starts + 4) * STEP], axis=1).astype(float)


@pytest.fixture(scope="module")
def song(pop909_dir):
    """The first 64 bars of validation song 025's MELODY: a note array. Its bars 19-22, 25-32 and 41-48 (one-based)
    repeat bars of 1-16 exactly."""
    record = max(file_to_melodies(pop909_dir / "025.mid", track="MELODY", quantize="beats"), key=lambda r: r.n_chunks)
    return listening.window_notes(record.chunks[:32])


def in_gap(notes, gap=listening.DEFAULT_GAP):
    bar = notes[:, 1] / note_stats.BAR_SECONDS
    return (bar >= gap[0]) & (bar < gap[1])


def test_keys_by_hand():
    assert listening.best_keys(C_MAJOR).tolist() == [0]
    assert listening.key_coverage(C_MAJOR) == 1.0
    # C D E G A fits C, F and G major alike
    assert listening.best_keys([60, 62, 64, 67, 69]).tolist() == [0, 5, 7]
    # A natural minor is C major's set
    assert listening.best_keys([57, 59, 60, 62, 64, 65, 67]).tolist() == [0]
    assert listening.key_coverage(range(60, 72)) == pytest.approx(7 / 12)  # the chromatic scale: any key holds 7
    assert listening.key_coverage([60, 61, 62, 63]) == pytest.approx(3 / 4)  # C# major holds C, C# and D#
    assert np.isnan(listening.key_coverage([]))
    # against C major, F# and C# are out; against the tie C/F/G, F# counts in G only and F in C and F
    assert listening.in_key_share([60, 66, 61, 67], C_MAJOR) == pytest.approx(0.5)
    assert listening.in_key_share([66, 65], [60, 62, 64, 67, 69]) == pytest.approx((1 / 3 + 2 / 3) / 2)


def test_the_song_holds_itself(song):
    values = listening.infill_measures(song, song)
    assert values["in_key_share"] > 0.9 and values["key_coverage"] > 0.9
    assert values["repeated_bars"] == 20 and values["repetition_f1"] == 1.0
    assert values["halves_share_key"] == 1.0
    assert values["longest_repetition"] == note_stats.longest_repetition(song, total_seconds=128.0)


def test_a_semitone_off_leaves_the_key_and_moves_the_register(song):
    gap = in_gap(song)
    before = listening.piece_measures(song)
    shifted = song.copy()
    shifted[gap, 0] += 1
    after = listening.piece_measures(shifted)
    assert after["in_key_share"] < 0.5 < 0.9 < before["in_key_share"]
    signed = song[gap, 0].mean() - song[~gap, 0].mean()
    assert before["register_distance"] == pytest.approx(abs(signed))
    assert after["register_distance"] == pytest.approx(abs(signed + 1))
    assert after["density_ratio"] == before["density_ratio"]
    # the song repeats its first bars in the gap; a semitone off matches none of their onsets
    assert listening.infill_measures(shifted, song)["repetition_f1"] == 0.0


def test_an_octave_up_keeps_the_key_but_not_the_register(song):
    gap = in_gap(song)
    raised = song.copy()
    raised[gap, 0] += 12
    values = listening.infill_measures(raised, song)
    assert values["in_key_share"] == listening.piece_measures(song)["in_key_share"]
    assert values["register_distance"] == pytest.approx(abs(song[gap, 0].mean() + 12 - song[~gap, 0].mean()))
    assert values["repetition_f1"] == 0.0


def test_density_counts_the_gap_against_the_kept_bars(song):
    gap = in_gap(song)
    halved = song[~gap | (np.cumsum(gap) % 2 == 0)]
    expected = (gap.sum() // 2) / 32 / ((~gap).sum() / 32)
    assert listening.piece_measures(halved)["density_ratio"] == pytest.approx(expected)
    silent = listening.infill_measures(song[~gap], song)
    assert silent["density_ratio"] == 0.0
    assert np.isnan(silent["in_key_share"]) and np.isnan(silent["register_distance"])
    assert silent["repetition_f1"] == 0.0


def test_repeats_must_match_pitch_and_step(song):
    repeated = listening.repeated_gap_bars(song)
    assert np.flatnonzero(repeated).tolist() == [18, 19, 20, 21, *range(24, 32), *range(40, 48)]
    late = song.copy()
    late[in_gap(song), 1:] += STEP  # every gap note a sixteenth late: only repeated sixteenths still match
    assert listening.onset_f1(late, song, repeated) < 0.1
    half = song[~(in_gap(song) & (np.arange(len(song)) % 2 == 1))]
    f1 = listening.onset_f1(half, song, repeated)
    assert 0.5 < f1 < 0.8  # half the onsets found, none wrong: F1 = 2/3 up to the odd count
    # with sections of at least 9 bars, only 24-31 (8 bars) is too short: nothing counts
    assert not listening.repeated_gap_bars(song, min_section_bars=9).any()
    assert np.isnan(listening.infill_measures(song, song, min_section_bars=9)["repetition_f1"])


def test_halves_in_different_keys():
    first = grid_notes(np.resize(C_MAJOR, 64))  # 64 quarter notes = bars 1-16
    f_sharp = grid_notes(np.resize([66, 68, 70, 71, 73, 75, 77], 64), first_step=32 * 16)
    c_again = grid_notes(np.resize(C_MAJOR, 64), first_step=32 * 16)
    assert listening.piece_measures(np.concatenate([first, c_again]))["halves_share_key"] == 1.0
    apart = listening.piece_measures(np.concatenate([first, f_sharp]))
    assert apart["halves_share_key"] == 0.0
    assert apart["key_coverage"] == pytest.approx(0.5 + 0.5 * 2 / 7, abs=0.01)


def test_rows_average_what_is_defined(song):
    gap = in_gap(song)
    rows = listening.listening_rows([song, song[~gap]], songs=[song, song])
    assert rows["pieces"] == 2
    assert rows["in_key_share_count"] == 1
    assert rows["in_key_share"] == listening.piece_measures(song)["in_key_share"]
    assert rows["density_ratio"] == pytest.approx(listening.piece_measures(song)["density_ratio"] / 2)
    assert rows["repetition_f1"] == 0.5
    assert "repetition_f1" not in listening.listening_rows([song])


def test_bad_input_is_named(song):
    with pytest.raises(ValueError, match="gap"):
        listening.piece_measures(song, gap=(0, 48))
    with pytest.raises(ValueError, match="one song per piece"):
        listening.listening_rows([song, song], songs=[song])
    with pytest.raises(ValueError, match="no pieces"):
        listening.listening_rows([])
    with pytest.raises(ValueError, match="bars_mask"):
        listening.onset_f1(song, song, np.ones(32, bool))


def test_window_notes_joins_chunks_only_when_continuous():
    tokens = np.zeros((32, 32), np.int64)
    tokens[0, 28] = 2 + 60 - 21  # C4 from the last beat of chunk 0, held into chunk 1 until its note off
    tokens[1, 4] = 1
    joined, cut = listening.window_notes(tokens), listening.window_notes(tokens, continuous=False)
    assert joined.tolist() == [[60, 28 * STEP, 36 * STEP]]
    assert cut.tolist() == [[60, 28 * STEP, 32 * STEP]]
