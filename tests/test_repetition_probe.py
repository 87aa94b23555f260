"""scripts/repetition_probe.py: how often a window repeats a 2-bar chunk, and how near its latent copies lie."""
import numpy as np

import repetition_probe as probe


def _window(chunk_ids, distinct):
    """Tokens `[len(chunk_ids), 32]` whose chunk i is `distinct[chunk_ids[i]]`."""
    return np.stack([distinct[i] for i in chunk_ids])


def test_exact_copies_count_as_repeats_and_fall_in_the_first_bin():
    rng = np.random.default_rng(0)
    distinct = rng.integers(2, 90, (3, 32))
    centres = rng.normal(0.0, 10.0, (3, 4))          # distinct chunks far apart (in units of 1)
    ids = [0, 1, 0, 1, 2, 2]                           # chunks 2, 3, 5 repeat an earlier one
    tokens = _window(ids, distinct)[None]
    latents = centres[ids][None]
    profile = probe.repetition_profile(latents, tokens, unit=1.0)
    assert profile["repeats_earlier_chunk"] == round(3 / 5, 4)
    assert profile["nearest_distance_bins"]["0-0.25"] == round(3 / 5, 4)
    assert profile["decoded_same"]["0-0.25"] == 1.0


def test_a_near_copy_that_decodes_differently_is_counted_near_but_not_same():
    rng = np.random.default_rng(1)
    distinct = rng.integers(2, 90, (2, 32))
    latents = np.array([[[0.0, 0.0], [0.7, 0.0]]])    # 0.7 units apart: the 0.5-1 bin
    tokens = distinct[None]                            # ... but the two chunks' tokens differ
    profile = probe.repetition_profile(latents, tokens, unit=1.0)
    assert profile["repeats_earlier_chunk"] == 0.0
    assert profile["nearest_distance_bins"]["0.5-1"] == 1.0
    assert profile["decoded_same"]["0.5-1"] == 0.0
    # the unit rescales the distances: the same pair in units of 0.5 is 1.4 apart
    assert probe.repetition_profile(latents, tokens, unit=0.5)["nearest_distance_bins"]["1-2"] == 1.0
