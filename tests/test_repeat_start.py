"""The repeat start of infilling (`symdiff_tf.diffusion.repeat_start`): which kept chunk each regenerated chunk
starts from, and what starting there does with the exact noise predictor of Gaussian data (test_schedulers)."""
import numpy as np
import pytest

from symdiff_tf.diffusion.repeat_start import check_repeat_start, repeat_sources, visited_timesteps
from test_schedulers import WINDOW, sampler


def test_each_regenerated_chunk_starts_from_the_nearest_kept_chunk_whole_periods_before_else_after():
    keep = np.zeros((4, 32), bool)
    keep[0, :8] = keep[0, 24:] = True   # the paper's gap, chunks 8-23
    keep[1, 8:] = True                  # a gap at the start: nothing before it
    keep[3, :4] = keep[3, 16:20] = True
    sources, found = (np.asarray(a) for a in repeat_sources(keep))
    gap = np.arange(8, 24)
    np.testing.assert_array_equal(sources[0, gap], gap % 8)  # 16 bars before; 32 bars before where that is new
    np.testing.assert_array_equal(found[0], ~keep[0])
    np.testing.assert_array_equal(sources[1, :8], np.arange(8, 16))  # 16 bars after
    assert found[1, :8].all() and not found[1, 8:].any()
    assert not found[2].any() and (sources[2] == np.arange(32)).all()  # the whole window regenerated: from noise
    assert sources[3, 24] == 16 and sources[3, 8] == 0 and not found[3, 4]  # 16 nearer than 0; 4 has none
    silent = np.ones((4, 32), bool)
    silent[0, 0:2] = False  # an intro without notes: the chunks 16 or 32 bars after it start from the end
    sources, found = (np.asarray(a) for a in repeat_sources(keep, repeatable=silent))
    assert list(sources[0, [8, 9, 10, 16]]) == [24, 25, 2, 24] and found[0, 8:24].all()


def test_a_start_at_one_is_the_start_from_noise_step_for_step():
    latent, seeds = sampler(), np.arange(16)
    template = np.random.default_rng(2).uniform(-1, 1, (len(seeds), *WINDOW)).astype(np.float32)
    keep = (np.arange(WINDOW[0]) < 3).astype(np.float32)
    for scheduler, steps in (("ddpm", 1000), ("ddim", 20)):
        np.testing.assert_array_equal(latent.infill(template, keep, seeds, scheduler, steps, repeat_start=1.0),
                                      latent.infill(template, keep, seeds, scheduler, steps))


def test_a_low_start_keeps_most_of_the_repeated_chunks_and_every_kept_one():
    """The kept chunks 0-7 of a 16-chunk window and the gap 8-15 starting from them: at level 0.02 of DDPM-1000
    (ᾱ ≈ 0.99, 20 steps run) the exact denoiser moves the repeat only part of the way to the data's mean; from
    noise the gap has nothing of it."""
    latent = sampler()
    latent.window_shape = (16, WINDOW[1])  # the exact predictor works for any length; two periods of 8 chunks
    seeds = np.arange(64)
    template = np.random.default_rng(3).uniform(-1, 1, (len(seeds), 16, WINDOW[1])).astype(np.float32)
    keep = (np.arange(16) < 8).astype(np.float32)
    low = latent.infill(template, keep, seeds, "ddpm", 1000, repeat_start=0.02)
    from_noise = latent.infill(template, keep, seeds, "ddpm", 1000)
    np.testing.assert_array_equal(low[:, :8], template[:, :8])
    repeated = template[:, :8].ravel()
    assert np.corrcoef(low[:, 8:].ravel(), repeated)[0, 1] > 0.8
    assert abs(np.corrcoef(from_noise[:, 8:].ravel(), repeated)[0, 1]) < 0.2
    visited = np.asarray(visited_timesteps(latent.scheduler("ddpm").timesteps(1000), 0.02, 1000))
    np.testing.assert_array_equal(visited, np.arange(20, 0, -1))
    coarse = np.asarray(visited_timesteps(latent.scheduler("ddim").timesteps(20), 0.001, 1000))
    np.testing.assert_array_equal(coarse, [1])  # below every step of the spacing: at least the last one runs


@pytest.mark.parametrize("value", [0, -0.5, 1.5, float("nan")])
def test_a_start_outside_zero_to_one_is_refused(value):
    with pytest.raises(ValueError, match=r"--repeat-start .*expected a number in \(0, 1\]"):
        check_repeat_start(value, "--repeat-start")
    with pytest.raises(ValueError, match="expected a number in"):
        sampler().infill(np.zeros((1, *WINDOW), np.float32), np.arange(8) < 2, [1], "ddpm", 10, repeat_start=value)
