"""Metrics: cases worked by hand, an independent numerical check of the OA, and melodies that game the
framewise metric."""
import math
import statistics

import numpy as np
import pytest
import scipy.integrate
import scipy.stats

from symdiff_tf.evaluation import metrics
from symdiff_tf.evaluation.metrics import latent, note_stats
from symdiff_tf.evaluation.metrics.framewise import FrameSpec


# ---------------------------------------------------------------------------------------------- overlapping area
def test_oa_equal_variances_by_hand():
    # One crossing at 62; OA = 2·Φ(−(64 − 60)/(2·2)) = 2·Φ(−1) = erfc(1/√2).
    assert metrics.overlapping_area(60, 4, 64, 4) == pytest.approx(0.317311, abs=1e-6)
    assert metrics.overlapping_area(64, 4, 60, 4) == pytest.approx(0.317311, abs=1e-6)
    assert metrics.overlapping_area(1.5, 2.0, 1.5, 2.0) == pytest.approx(1.0)


def test_oa_different_variances_by_hand():
    # N(0, 1) vs N(0, 4): crossings at ±sqrt(4·ln 4 / 3) = ±1.35956; between them N(0, 1) is larger, so
    # OA = 1 − (2Φ(1.35956) − 1) + (2Φ(1.35956/2) − 1) = 1 − 2(Φ(1.35956) − Φ(0.67978)) = 0.67733.
    crossing = math.sqrt(4 * math.log(4) / 3)
    expected = 1 - 2 * (scipy.stats.norm.cdf(crossing) - scipy.stats.norm.cdf(crossing / 2))
    assert expected == pytest.approx(0.67733, abs=1e-5)
    assert metrics.overlapping_area(0, 1, 0, 4) == pytest.approx(expected, abs=1e-12)


def _pdf(x, mean, var):
    return math.exp(-0.5 * (x - mean) ** 2 / var) / math.sqrt(2 * math.pi * var)


@pytest.mark.parametrize("seed", range(3))
def test_oa_matches_numerical_integration_and_stdlib(seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        m1, m2 = rng.normal(60, 5, 2)
        v1, v2 = rng.uniform(0.05, 30, 2)
        if seed == 0:
            v2 = v1 * (1 + 1e-9)  # nearly equal variances: one crossing runs off to infinity
        integral, _ = scipy.integrate.quad(
            lambda x: min(_pdf(x, m1, v1), _pdf(x, m2, v2)),
            min(m1, m2) - 12 * max(v1, v2) ** 0.5, max(m1, m2) + 12 * max(v1, v2) ** 0.5,
            points=[m1, m2], limit=200, epsabs=1e-10,
        )
        reference = statistics.NormalDist(m1, v1**0.5).overlap(statistics.NormalDist(m2, v2**0.5))
        oa = metrics.overlapping_area(m1, v1, m2, v2)
        assert oa == pytest.approx(reference, abs=1e-9)
        assert oa == pytest.approx(integral, abs=1e-6)
        assert oa == pytest.approx(metrics.overlapping_area(m2, v2, m1, v1), abs=1e-12)


def test_oa_point_masses():
    assert metrics.overlapping_area(62, 0, 62, 0) == 1.0
    assert metrics.overlapping_area(62, 0, 63, 0) == 0.0
    assert metrics.overlapping_area(62, 0, 62, 4) == 0.0
    assert metrics.overlapping_area(62, 4, 62, 0) == 0.0
    # Continuity: a vanishing variance approaches the point-mass convention.
    assert metrics.overlapping_area(62, 1e-10, 62, 4) < 1e-4


def test_oa_rejects_bad_input():
    with pytest.raises(ValueError, match="variances must be >= 0"):
        metrics.overlapping_area(0, -1, 0, 1)
    with pytest.raises(ValueError, match="finite"):
        metrics.overlapping_area(float("nan"), 1, 0, 1)


def test_original_formula_reproduces_its_bug_and_is_close_otherwise():
    assert metrics.overlapping_area_original(60, 4, 64, 4) == pytest.approx(1.0, abs=1e-6)
    assert metrics.overlapping_area_original(60, 0, 70, 0) == pytest.approx(1.0, abs=1e-6)
    for args in [(60, 4, 64, 9), (10, 2, 12, 0.5), (60, 9, 63, 6)]:
        assert metrics.overlapping_area_original(*args) == pytest.approx(metrics.overlapping_area(*args), abs=2e-3)
    # One crossing only: with close means and unequal variances the far tail is missed (exact: 0.6773).
    assert metrics.overlapping_area_original(0, 1, 0, 4) == pytest.approx(0.83866, abs=1e-5)


# ------------------------------------------------------------------------------------------------------ framewise
def _notes(*rows):
    return np.array(rows, dtype=np.float64)


# Frames of [0, 8) and [4, 12): frame 0 holds pitches {58, 62}, frame 1 holds {62, 66}.
HAND_PIECE = _notes((58, 0.0, 1.0), (62, 4.0, 5.0), (66, 8.0, 11.0))


def test_frame_gaussians_by_hand():
    stats, empty = metrics.frame_gaussians(HAND_PIECE, FrameSpec(total_seconds=12.0))
    np.testing.assert_allclose(stats, [[60, 4, 1, 0], [64, 4, 2, 1]])
    assert not empty.any()


def test_adjacent_overlaps_by_hand():
    spec = FrameSpec(total_seconds=12.0)
    pitch, duration = metrics.adjacent_overlaps(HAND_PIECE, spec)
    np.testing.assert_allclose(pitch, [0.317311], atol=1e-6)
    np.testing.assert_allclose(duration, [0.0])  # durations {1, 1} are a point mass; {1, 3} a Gaussian
    _, duration = metrics.adjacent_overlaps(HAND_PIECE, spec, min_variance=(0.0, 1.0))
    np.testing.assert_allclose(duration, [math.erfc(1 / (2 * math.sqrt(2)))])  # N(1, 1) vs N(2, 1): 0.6171
    pitch, _ = metrics.adjacent_overlaps(HAND_PIECE, spec, formula="original")
    np.testing.assert_allclose(pitch, [1.0], atol=1e-6)
    with pytest.raises(ValueError, match="formula"):
        metrics.adjacent_overlaps(HAND_PIECE, spec, formula="exactly")


def test_frames_follow_the_original_rule():
    # 64 bars of quarter notes at 120 qpm: 128 s, 31 frames of 8 s, 30 pairs.
    piece = np.array([(60 + (k % 5), 0.5 * k, 0.5 * k + 0.5) for k in range(256)])
    stats, empty = metrics.frame_gaussians(piece)
    assert stats.shape == (31, 4) and not empty.any()
    pitch, duration = metrics.adjacent_overlaps(piece)
    assert pitch.shape == duration.shape == (30,)
    # Onset in [start, end), end cut at the frame end: a note from 7.9 s to 9 s counts in frame 0 (0.1 s long)
    # and in frame 1 (1.1 s long); a note starting at 8.0 s is not in frame 0.
    crossing = _notes((60, 7.9, 9.0), (72, 8.0, 8.5))
    stats, _ = metrics.frame_gaussians(crossing, FrameSpec(total_seconds=12.0))
    np.testing.assert_allclose(stats[0], [60, 0, 0.1, 0], atol=1e-12)
    np.testing.assert_allclose(stats[1], [66, 36, 0.8, 0.09], atol=1e-12)


def test_empty_frame_conventions():
    # Notes only in [0, 4); with 16 s: frames at 0, 4, 8 -> frame 0 sounds, frames 1 and 2 are empty.
    piece = _notes((60, 0.0, 1.0), (64, 1.0, 2.0))
    spec = FrameSpec(total_seconds=16.0)
    _, empty = metrics.frame_gaussians(piece, spec)
    assert empty.tolist() == [False, True, True]
    pitch, duration = metrics.adjacent_overlaps(piece, spec)
    np.testing.assert_allclose(pitch, [0.0, 1.0])
    np.testing.assert_allclose(duration, [0.0, 1.0])
    pitch, _ = metrics.adjacent_overlaps(piece, spec, empty_frames="skip")
    assert pitch.shape == (0,)
    with pytest.raises(ValueError, match="no pair"):
        metrics.overlap_statistics([piece], spec=spec, empty_frames="skip")


def test_relative_similarity_by_hand():
    assert metrics.relative_similarity(0.8, 1.0) == pytest.approx(0.8)
    assert metrics.relative_similarity(0.9, 0.82) == pytest.approx(1 - 0.08 / 0.82)
    assert metrics.relative_similarity(2.5, 1.0) == 0.0  # more than 100% error is clipped
    assert math.isnan(metrics.relative_similarity(0.1, 0.0))


def _random_walk(rng, num_notes=256, step=0.5):
    pitches = 60 + np.cumsum(rng.integers(-2, 3, num_notes))
    durations = rng.choice([0.25, 0.5, 1.0], num_notes)
    starts = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    keep = starts < 128.0
    return np.stack([pitches, starts, np.minimum(starts + durations, 128.0)], axis=1)[keep]


def test_framewise_metrics_pool_over_pieces():
    rng = np.random.default_rng(0)
    pieces = [_random_walk(rng) for _ in range(4)]
    per_piece = [metrics.adjacent_overlaps(p) for p in pieces]
    pooled_pitch = np.concatenate([p for p, _ in per_piece])
    stats = metrics.overlap_statistics(pieces)
    assert stats.num_pairs == len(pooled_pitch) and stats.num_pieces == 4
    assert stats.pitch_oa_mean == pytest.approx(pooled_pitch.mean())
    assert stats.pitch_oa_var == pytest.approx(pooled_pitch.var())
    row = metrics.framewise_metrics(pieces, stats)
    assert row == pytest.approx({
        "pitch_consistency": 1.0, "pitch_variance": 1.0, "duration_consistency": 1.0, "duration_variance": 1.0,
        "pitch_oa_mean": stats.pitch_oa_mean, "pitch_oa_var": stats.pitch_oa_var,
        "duration_oa_mean": stats.duration_oa_mean, "duration_oa_var": stats.duration_oa_var,
    })


def test_table1_standard_errors_match_the_spread_of_independent_sets():
    """The bootstrap standard error of one set of 60 random walks is the spread of Table 1 over 24 independent
    such sets (within sampling error), it halves with four times the pieces, and is 0 for identical pieces."""
    rng = np.random.default_rng(1)
    ground_truth = metrics.overlap_statistics([_random_walk(rng) for _ in range(200)])
    sets = [[_random_walk(rng) for _ in range(60)] for _ in range(24)]
    spread = {name: np.std([metrics.framewise_metrics(s, ground_truth)[name] for s in sets], ddof=1)
              for name in ("pitch_consistency", "pitch_variance")}
    errors = metrics.table1_standard_errors(sets[0], ground_truth)
    for name, value in spread.items():
        assert 0.6 < errors[name] / value < 1.6, (name, errors[name], value)
    larger = metrics.table1_standard_errors(sum(sets[:4], []), ground_truth)
    assert 0.35 < larger["pitch_consistency"] / errors["pitch_consistency"] < 0.65
    same = metrics.table1_standard_errors([sets[0][0]] * 30, ground_truth)
    assert max(same.values()) == pytest.approx(0.0, abs=1e-12)


def test_noteseq_and_midi_inputs_agree(tmp_path):
    import note_seq

    sequence = note_seq.NoteSequence()
    for pitch, start, end in HAND_PIECE:
        sequence.notes.add(pitch=int(pitch), start_time=start, end_time=end, velocity=80)
    sequence.notes.add(pitch=36, start_time=0.0, end_time=0.5, velocity=80, is_drum=True, instrument=9)  # dropped
    sequence.total_time = 16.0  # a trailing rest: frames at 0, 4, 8 s (the array alone ends at 11 s: 0, 4)
    assert len(metrics.frame_gaussians(sequence)[0]) == 3
    assert len(metrics.frame_gaussians(HAND_PIECE)[0]) == 2
    path = tmp_path / "hand.mid"
    note_seq.sequence_proto_to_midi_file(sequence, str(path))
    np.testing.assert_allclose(metrics.as_note_array(sequence), HAND_PIECE)
    np.testing.assert_allclose(metrics.as_note_array(path), HAND_PIECE, atol=1e-3)
    with pytest.raises(ValueError, match="no such MIDI file"):
        metrics.as_note_array(tmp_path / "missing.mid")
    with pytest.raises(ValueError, match=r"\[num_notes, 3\]"):
        metrics.as_note_array(np.zeros((4, 2)))


def test_real_midi_file(pop909_dir):
    pitch, duration = metrics.adjacent_overlaps(pop909_dir / "001.mid")
    assert len(pitch) > 10
    assert np.all((pitch >= 0) & (pitch <= 1)) and np.all((duration >= 0) & (duration <= 1))


# ---------------------------------------------------------------------------------- melodies that game the metric
def test_looped_and_monotone_melodies_are_caught_by_note_statistics():
    rng = np.random.default_rng(1)
    natural = [_random_walk(rng) for _ in range(3)]
    figure = _random_walk(rng)[:8]  # a 2-bar figure, looped for 64 bars
    figure = figure[figure[:, 1] < 4.0]
    figure[-1, 2] = 4.0
    looped = np.concatenate([figure + [0, 4.0 * k, 4.0 * k] for k in range(32)])
    monotone = np.array([(67, 0.5 * k, 0.5 * k + 0.5) for k in range(256)])
    natural_stats = metrics.overlap_statistics(natural)
    for gamed in (looped, monotone):
        # The framewise metric rates these as at least as self-similar as natural material ...
        gamed_stats = metrics.overlap_statistics([gamed])
        assert gamed_stats.pitch_oa_mean > natural_stats.pitch_oa_mean
        assert gamed_stats.pitch_oa_mean > 0.95
    # ... the note statistics do not.
    assert metrics.longest_repetition(looped, 128.0) == 62.0
    assert max(metrics.longest_repetition(p, 128.0) for p in natural) < 8
    assert metrics.pitch_class_entropy(monotone) == 0.0
    assert min(metrics.pitch_class_entropy(p) for p in natural) > 2.0


def test_longest_repetition_equals_the_search_over_every_shift():
    """The suffix-array search gives what comparing the step tokens with themselves at every shift gives."""
    def every_shift(piece, total_seconds):
        tokens, best = note_stats.step_tokens(piece, total_seconds), 0
        for shift in range(1, len(tokens)):
            equal = np.concatenate(([False], tokens[:-shift] == tokens[shift:], [False]))
            edges = np.flatnonzero(np.diff(equal.astype(np.int8)))
            best = max(best, int((edges[1::2] - edges[::2]).max(initial=0)))
        return best / 16

    rng = np.random.default_rng(3)
    figure = _random_walk(rng)[:12]
    looped = np.concatenate([figure + [0, 8.0 * k, 8.0 * k] for k in range(16)])
    pieces = [_random_walk(rng, num_notes=n) for n in (40, 120, 256)] + [looped, figure[:1], np.zeros((0, 3))]
    for piece in pieces:
        for total in (None, 128.0):
            assert note_stats.longest_repetition(piece, total) == every_shift(piece, total)


def test_note_statistics_by_hand():
    # Bar 0: C, E, G, C' quarter notes; bar 1: silence. 2 bars = 4 s = 32 steps.
    piece = _notes((60, 0, 0.5), (64, 0.5, 1.0), (67, 1.0, 1.5), (72, 1.5, 2.0))
    stats = metrics.note_statistics(piece, total_seconds=4.0)
    assert stats["note_density"] == 2.0  # 4 notes over 2 bars
    assert stats["rest_share"] == 0.5
    assert stats["pitch_class_entropy"] == pytest.approx(1.5)  # C twice, E, G: −(½log½ + 2·¼log¼)
    assert stats["longest_repetition"] == pytest.approx(15 / 16)  # 16 rest steps repeat with overlap: 15
    tokens = note_stats.step_tokens(piece, total_seconds=4.0)
    assert tokens[:5].tolist() == [60, note_stats.HOLD, note_stats.HOLD, note_stats.HOLD, 64]
    assert math.isnan(metrics.pitch_class_entropy(np.zeros((0, 3))))
    assert metrics.rest_share(np.zeros((0, 3)), total_seconds=4.0) == 1.0


# ------------------------------------------------------------------------------------------------- latent space
def test_frechet_distance_by_hand():
    # 1-D: x = {−1, 1}: mean 0, var 2; y = {1, 5}: mean 3, var 8. FD = 9 + 2 + 8 − 2·√16 = 11.
    assert metrics.frechet_distance([[-1.0], [1.0]], [[1.0], [5.0]]) == pytest.approx(11.0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 32, 4))
    assert metrics.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    shifted = x + np.array([1.0, 0.0, 2.0, 0.0])
    assert metrics.frechet_distance(x, shifted) == pytest.approx(5.0, abs=1e-6)


def test_mmd_by_hand():
    x, y = [[1.0], [1.0]], [[2.0], [2.0]]
    assert metrics.mmd(x, y) == pytest.approx(1 + 16 - 2 * 4)  # (⟨x, y⟩)²
    assert metrics.mmd(x, y, kernel="rbf") == pytest.approx(2 - 2 * math.exp(-1))
    x2, y2 = [[1.0], [3.0]], [[0.0], [2.0]]
    # K_XX = {1, 9, 9, 81}: 25; K_YY = {0, 0, 0, 16}: 4; K_XY = {0, 4, 0, 36}: 10. MMD = 25 + 4 − 20 = 9.
    assert metrics.mmd(x2, y2) == pytest.approx(9.0)
    with pytest.raises(ValueError, match="kernel"):
        metrics.mmd(x, y, kernel="linear")


def test_mmd_shortcuts_match_the_full_kernel_matrices(monkeypatch):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(7, 5, 3)), rng.normal(0.3, 1.0, size=(6, 5, 3))
    fx, fy = x.reshape(-1, 3), y.reshape(-1, 3)
    cases = [dict(kernel="polynomial"), dict(kernel="polynomial", gamma=0.5, coef0=1.5),
             dict(kernel="polynomial", degree=3, coef0=1.0), dict(kernel="rbf", gamma=0.7)]
    for options in cases:
        full = {"kernel": "polynomial", "degree": 2, "gamma": 1.0, "coef0": 0.0, **options}
        expected = (latent.kernel_matrix(fx, fx, **full).mean() + latent.kernel_matrix(fy, fy, **full).mean()
                    - 2 * latent.kernel_matrix(fx, fy, **full).mean())
        assert metrics.mmd(x, y, **options) == pytest.approx(expected, rel=1e-10)
        monkeypatch.setattr(latent, "_BLOCK", 4)  # blocks that do not divide the 35 and 30 samples
        assert metrics.mmd(x, y, **options) == pytest.approx(expected, rel=1e-10)
        monkeypatch.undo()


def test_flattening():
    latents = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    assert metrics.flatten_latents(latents, "chunk").shape == (6, 4)
    assert metrics.flatten_latents(latents, "sequence").shape == (2, 12)
    np.testing.assert_array_equal(metrics.flatten_latents(latents, "sequence")[1], latents[1].ravel())
    with pytest.raises(ValueError, match="per="):
        metrics.flatten_latents(latents, "song")
    many = np.random.default_rng(3).normal(size=(40, 3, 4))  # more sequences than the 12 flattened dims
    result = metrics.latent_metrics(many, many + 1.0, per="sequence")
    assert set(result) == {"fd", "mmd"} and result["fd"] == pytest.approx(12.0)
