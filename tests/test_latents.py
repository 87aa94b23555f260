"""Latent input pipeline (symdiff_tf/data/: latent_config, melody_latents, latent_windows, scaler): windows, kept
dims, scaling round trip, seeded sampling."""
import json

import numpy as np
import pytest

from symdiff_tf.data.latent_config import PAPER_KEPT_DIMS, LatentDataConfig
from symdiff_tf.data.latent_windows import (
    count_windows,
    datasets_for_training,
    fit_scaler,
    melody_window_starts,
    windows_dataset,
)
from symdiff_tf.data.melody_latents import MelodyLatents, mean_sigma, select_kept_dims
from symdiff_tf.data.scaler import SCALER_FILENAME, LatentScaler


def _melodies(lengths=(40, 35, 10), z_size=6, rest_at=None, seed=0):
    """Synthetic per-melody posteriors: dims 0 and 3 informative (sigma 0.1-0.2), the rest near the prior."""
    rng = np.random.default_rng(seed)
    mu, sigma, rests = [], [], []
    for index, n in enumerate(lengths):
        s = rng.uniform(1.0, 1.1, (n, z_size)).astype(np.float32)
        s[:, [0, 3]] = rng.uniform(0.1, 0.2, (n, 2))
        m = rng.normal(0, 1, (n, z_size)).astype(np.float32)
        m[:, 0] += 3 * index  # melodies differ, so a window's melody can be told from its values
        r = np.zeros(n, bool)
        if rest_at is not None and index in rest_at:
            r[rest_at[index]] = True
            m[r] = 0
            s[r] = 0
        mu.append(m)
        sigma.append(s)
        rests.append(r)
    return MelodyLatents(mu, sigma, rests)


def test_windows_count_stride_and_rests():
    data = _melodies(rest_at={1: [5]})
    starts = lambda cfg: melody_window_starts(data, cfg.window_chunks, cfg.stride, cfg.allow_rests)
    ids, first = starts(LatentDataConfig(window_chunks=32, stride=1, allow_rests=True))
    # melody 0: 40 chunks -> starts 0..8 (9 windows: no off-by-one); melody 1: 35 -> 4; melody 2: too short
    assert ids.tolist() == [0] * 9 + [1] * 4
    assert first.tolist() == list(range(9)) + list(range(4))
    ids, first = starts(LatentDataConfig(window_chunks=32, stride=1, allow_rests=False))
    assert ids.tolist() == [0] * 9  # every window of melody 1 covers its rest chunk at 5
    ids, first = starts(LatentDataConfig(window_chunks=16, stride=8, allow_rests=False))
    # melody 0: 0, 8, 16, 24; melody 1 (rest at 5): 8, 16; melody 2: none
    assert list(zip(ids.tolist(), first.tolist())) == [(0, 0), (0, 8), (0, 16), (0, 24), (1, 8), (1, 16)]
    assert count_windows(data.rests, LatentDataConfig(window_chunks=16, stride=8)) == 6


def test_kept_dims_by_threshold_and_explicit():
    data = _melodies()
    assert select_kept_dims(mean_sigma(data), 1.0).tolist() == [0, 3]
    assert fit_scaler(data, LatentDataConfig(z_mode="mu")).kept_dims == (0, 3)
    explicit = fit_scaler(data, LatentDataConfig(z_mode="mu", kept_dims=(5, 1)))
    assert explicit.kept_dims == (1, 5)
    assert len(PAPER_KEPT_DIMS) == 42 and PAPER_KEPT_DIMS[0] == 12 and PAPER_KEPT_DIMS[-1] == 483
    with pytest.raises(ValueError, match="below"):
        select_kept_dims(mean_sigma(data), 0.05)


def test_mean_sigma_ignores_rest_chunks():
    data = _melodies(rest_at={0: list(range(20))})
    expected = np.concatenate([s[~r] for s, r in zip(data.sigma, data.rests)]).mean(axis=0)
    np.testing.assert_allclose(mean_sigma(data), expected, rtol=1e-6)


def test_scaler_statistics_are_train_min_max_over_windowed_chunks():
    data = _melodies()
    config = LatentDataConfig(z_mode="mu", window_chunks=32)
    scaler = fit_scaler(data, config)
    covered = np.concatenate([data.mu[0][:, [0, 3]], data.mu[1][:, [0, 3]]])  # melody 2 has no window
    assert scaler.minimum == pytest.approx(covered.min()) and scaler.maximum == pytest.approx(covered.max())
    windows = np.stack(list(windows_dataset(data, scaler, config).as_numpy_iterator()))
    assert windows.shape == (9 + 4, 32, 2) and windows.dtype == np.float32
    assert windows.min() == pytest.approx(-1.0, abs=1e-6) and windows.max() == pytest.approx(1.0, abs=1e-6)


def test_scaling_round_trip_and_inverse_fill(tmp_path):
    data = _melodies()
    scaler = fit_scaler(data, LatentDataConfig(z_mode="mu"))
    raw = np.random.default_rng(1).normal(0, 2, (4, 32, 2)).astype(np.float32)
    np.testing.assert_allclose(scaler.unscale(scaler.scale(raw)), raw, rtol=1e-5, atol=1e-5)
    scaled = scaler.scale(raw)
    full = scaler.inverse(scaled, fill="zeros")
    assert full.shape == (4, 32, 6)
    np.testing.assert_allclose(full[..., [0, 3]], raw, rtol=1e-5, atol=1e-5)
    assert not full[..., [1, 2, 4, 5]].any()
    noisy = scaler.inverse(scaled, fill="noise", seed=3)
    np.testing.assert_allclose(noisy[..., [0, 3]], raw, rtol=1e-5, atol=1e-5)
    dropped = noisy[..., [1, 2, 4, 5]]
    assert abs(dropped.mean()) < 0.15 and 0.85 < dropped.std() < 1.15  # N(0, 1) as the original
    np.testing.assert_array_equal(noisy, scaler.inverse(scaled, fill="noise", seed=3))
    assert not np.array_equal(noisy, scaler.inverse(scaled, fill="noise", seed=4))
    # saved beside the model as JSON, and loaded back identical
    path = scaler.save(tmp_path / "new_workdir")
    assert path == tmp_path / "new_workdir" / SCALER_FILENAME
    assert json.loads(path.read_text())["kept_dims"] == [0, 3]
    assert LatentScaler.load(tmp_path / "new_workdir") == scaler == LatentScaler.load(path)
    with pytest.raises(FileNotFoundError, match="latent scaling"):
        LatentScaler.load(tmp_path / "elsewhere")


def test_sampling_is_fresh_each_epoch_and_deterministic_with_seed():
    data = _melodies()
    config = LatentDataConfig(window_chunks=32, seed=7, shuffle=True)
    scaler = fit_scaler(data, config)
    epochs = lambda ds, n: [np.stack(list(ds.as_numpy_iterator())) for _ in range(n)]
    first, second = epochs(windows_dataset(data, scaler, config), 2)
    again, _ = epochs(windows_dataset(data, scaler, config), 2)
    np.testing.assert_array_equal(first, again)  # same seed, same stream
    assert not np.allclose(np.sort(first, axis=None), np.sort(second, axis=None))  # fresh z next epoch
    other = epochs(windows_dataset(data, scaler, LatentDataConfig(window_chunks=32, seed=8, shuffle=True)), 1)[0]
    assert not np.array_equal(first, other)
    # under .repeat() the second pass also draws afresh
    repeated = np.stack(list(windows_dataset(data, scaler, config).repeat(2).as_numpy_iterator()))
    np.testing.assert_array_equal(repeated[:13], first)
    assert not np.allclose(np.sort(repeated[13:], axis=None), np.sort(first, axis=None))
    # the draws really are N(mu, sigma): mean over many epochs -> mu, spread -> sigma
    unshuffled = LatentDataConfig(window_chunks=32, seed=7)
    draws = np.stack(epochs(windows_dataset(data, scaler, unshuffled), 200))
    raw = scaler.unscale(draws)[:, 0]  # first window of melody 0: chunks 0..31, kept dims 0 and 3
    np.testing.assert_allclose(raw.mean(0), data.mu[0][:32, [0, 3]], atol=0.05)
    np.testing.assert_allclose(raw.std(0), data.sigma[0][:32, [0, 3]], rtol=0.25)


def test_fixed_and_mu_modes_repeat_exactly():
    data = _melodies()
    for mode in ("fixed", "mu"):
        config = LatentDataConfig(window_chunks=32, z_mode=mode, shuffle=False)
        scaler = fit_scaler(data, config)
        ds = windows_dataset(data, scaler, config)
        a, b = (np.stack(list(ds.as_numpy_iterator())) for _ in range(2))
        np.testing.assert_array_equal(a, b)
    mu_windows = a
    np.testing.assert_allclose(scaler.unscale(mu_windows[0]), data.mu[0][:32, [0, 3]], rtol=1e-5, atol=1e-5)


def test_rest_chunks_are_zero_latents_when_kept():
    data = _melodies(rest_at={0: [3]})
    config = LatentDataConfig(window_chunks=32, allow_rests=True, shuffle=False)
    scaler = fit_scaler(data, config)
    window = next(windows_dataset(data, scaler, config).as_numpy_iterator())
    np.testing.assert_allclose(scaler.unscale(window[3]), 0.0, atol=1e-5)  # zero latent, as the original


def test_eval_statistics_train_by_default_or_own():
    train, evaluation = _melodies(seed=0), _melodies(lengths=(33,), seed=5)
    evaluation.mu[0] *= 3
    config = LatentDataConfig(window_chunks=32, z_mode="mu")
    _, eval_ds, scaler = datasets_for_training(train, config, evaluation)
    window = next(eval_ds.as_numpy_iterator())
    np.testing.assert_allclose(scaler.unscale(window), evaluation.mu[0][:32, [0, 3]], rtol=1e-4, atol=1e-4)
    assert np.abs(window).max() > 1.5  # eval scaled with train statistics can leave [-1, 1]
    _, own_ds, _ = datasets_for_training(train, config, evaluation, eval_statistics="own")
    own = np.stack(list(own_ds.as_numpy_iterator()))
    assert own.min() == pytest.approx(-1, abs=1e-6) and own.max() == pytest.approx(1, abs=1e-6)


def test_from_examples_names_missing_latents():
    with pytest.raises(ValueError, match="tokens"):
        MelodyLatents.from_examples([{"tokens": np.zeros((3, 32)), "rests": np.zeros(3, bool)}])


def test_original_window_bugs_option():
    data = _melodies(lengths=(33, 33), rest_at={1: [0]})
    fixed = LatentDataConfig(window_chunks=32)
    original = LatentDataConfig(window_chunks=32, original_window_bugs=True)
    # fixed: 33 chunks give starts 0 and 1; melody 1's rest at 0 drops start 0 only
    assert count_windows(data.rests, fixed) == 2 + 1
    # original: range(0, 33 - 32) = [0] only (off-by-one), and the rest at position 0 goes unnoticed
    assert count_windows(data.rests, original) == 1 + 1


def test_reading_only_the_kept_dims_gives_the_same_windows():
    data = _melodies()
    examples = [{"mu": m, "sigma": s, "rests": r} for m, s, r in zip(data.mu, data.sigma, data.rests)]
    config = LatentDataConfig(window_chunks=32, seed=3)
    full_ds, _, full_scaler = datasets_for_training(examples, config)
    slim_ds, _, slim_scaler = datasets_for_training(examples, config, mean_sigma_per_dim=mean_sigma(data))
    slim = MelodyLatents.from_examples(examples, dims=slim_scaler.kept_dims)
    assert slim.mu[0].shape == (40, 2) and slim.z_size == 6  # only dims 0 and 3 held in memory
    assert slim_scaler == full_scaler
    np.testing.assert_array_equal(np.stack(list(slim_ds)), np.stack(list(full_ds)))
    with pytest.raises(ValueError, match="not read"):
        slim.columns([1])
