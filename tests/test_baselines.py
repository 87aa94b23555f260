"""Baselines: prior draws and spherical interpolation, checked against values worked by hand."""
import numpy as np
import pytest

from symdiff_tf.evaluation import baselines


def test_prior_is_seeded_standard_normal():
    a = baselines.prior_latents(64, num_chunks=32, latent_dim=16, seed=3)
    assert a.shape == (64, 32, 16) and a.dtype == np.float32
    np.testing.assert_array_equal(a, baselines.prior_latents(64, 32, 16, seed=3))
    assert not np.array_equal(a, baselines.prior_latents(64, 32, 16, seed=4))
    assert abs(a.mean()) < 0.02 and abs(a.std() - 1.0) < 0.02


def test_prior_infill_replaces_only_the_gap():
    windows = np.full((3, 32, 4), 7.0)
    filled = baselines.prior_infill(windows, seed=0)
    np.testing.assert_array_equal(filled[:, :8], windows[:, :8])
    np.testing.assert_array_equal(filled[:, 24:], windows[:, 24:])
    assert np.all(filled[:, 8:24] != 7.0)
    np.testing.assert_array_equal(filled, baselines.prior_infill(windows, seed=0))
    np.testing.assert_array_equal(windows, 7.0)  # input untouched


def test_slerp_by_hand():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    path = baselines.slerp(a, b, [0.0, 0.5, 1.0])
    # Ω = 90°: at t = ½ both weights are sin 45° / sin 90° = √½.
    np.testing.assert_allclose(path, [[1, 0], [np.sqrt(0.5), 2 * np.sqrt(0.5)], [0, 2]], atol=1e-12)
    # A third of the way along the arc between unit vectors: the unit vector at 30°.
    np.testing.assert_allclose(baselines.slerp(a, [0.0, 1.0], [1 / 3])[0], [np.cos(np.pi / 6), 0.5], atol=1e-12)
    # Parallel vectors and a zero vector fall back to linear interpolation.
    np.testing.assert_allclose(baselines.slerp(a, 3 * a, [0.5])[0], [2.0, 0.0])
    np.testing.assert_allclose(baselines.slerp(np.zeros(2), b, [0.25])[0], [0.0, 0.5])


def test_interpolation_latents_runs_from_first_to_last_chunk():
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(2, 32, 8)).astype(np.float32)
    path = baselines.interpolation_latents(windows)
    assert path.shape == windows.shape and path.dtype == np.float32
    np.testing.assert_array_equal(path[:, 0], windows[:, 0])
    np.testing.assert_array_equal(path[:, -1], windows[:, -1])
    expected = baselines.slerp(windows[1, 0], windows[1, -1], [10 / 31])[0]
    np.testing.assert_allclose(path[1, 10], expected, rtol=1e-6)


def test_interpolation_infill_matches_the_original_layout():
    rng = np.random.default_rng(1)
    windows = rng.normal(size=(2, 32, 8))
    filled = baselines.interpolation_infill(windows)
    np.testing.assert_array_equal(filled[:, :8], windows[:, :8])
    np.testing.assert_array_equal(filled[:, 24:], windows[:, 24:])
    # The original: linspace(0, 1, 18) from chunk 7 to chunk 24; chunk 8 + k gets point k + 1.
    points = baselines.slerp(windows[:, 7], windows[:, 24], np.linspace(0, 1, 18))
    np.testing.assert_allclose(filled[:, 8:24], points[:, 1:17], rtol=1e-12)
    with pytest.raises(ValueError, match="kept chunk on each side"):
        baselines.interpolation_infill(windows, gap=(0, 8))
    with pytest.raises(ValueError, match="0 <= start < stop"):
        baselines.prior_infill(windows, gap=(20, 40))
