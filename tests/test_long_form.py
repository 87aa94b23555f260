"""Spans longer than one 64-bar window, with fake models that write recognisable notes."""
import numpy as np
import pytest

from symdiff_tf.melody.long_form import Window, place_window, plan_windows, run_windows, window_seeds
from symdiff_tf.melody.song_grid import song_melody


def pattern_pitch(seed, window_bar):
    """The pitch the fakes write in a bar: it names the seed and the bar of the window."""
    return 40 + (int(seed) * 7 + window_bar) % 40


class FakeModel:
    """sample_windows / infill_windows that write one note per generated bar (first step, half a bar long) and
    record what they were given."""

    def __init__(self):
        self.calls = []

    def _write(self, tokens, generate, seeds):
        bars = np.array(tokens).reshape(len(seeds), 64, 16)
        for item, seed in enumerate(seeds):
            for bar in np.flatnonzero(generate[item]):
                bars[item, bar] = 0
                bars[item, bar, 0] = 2 + pattern_pitch(seed, bar) - 21
                bars[item, bar, 8] = 1
        return bars.reshape(len(seeds), 32, 32)

    def sample_windows(self, seeds):
        self.calls.append(("sample", None, None, np.array(seeds)))
        return self._write(np.zeros((len(seeds), 32, 32), np.int32), np.ones((len(seeds), 64), bool), seeds)

    def infill_windows(self, tokens, keep_bars, seeds):
        self.calls.append(("infill", np.array(tokens), np.array(keep_bars), np.array(seeds)))
        return self._write(tokens, ~np.asarray(keep_bars), seeds)


def test_the_windows_of_256_bars():
    windows = plan_windows(0, 255, known_after=0)
    assert windows == [Window(0, 0, 63)] + [Window(32 * k, 32 * k + 32, 32 * k + 63) for k in range(1, 7)]


@pytest.mark.parametrize("first, last, known_after, start", [
    (16, 31, 90, 0),  # song bars before and after: the window keeps both, the earliest of the most balanced
    (80, 100, 90, 37),  # past the song's end: the most bars before
    (40, 50, 200, 13),  # 27 bars before, 26 after
])
def test_one_window_gets_the_most_context_on_both_sides(first, last, known_after, start):
    assert place_window(first, last, known_after) == start
    assert plan_windows(first, last, known_after) == [Window(start, first, last)]


def test_a_long_span_ends_with_the_songs_bars_after_it():
    windows = plan_windows(10, 150, known_after=160)
    assert windows[:3] == [Window(0, 10, 63), Window(32, 64, 95), Window(64, 96, 127)]
    assert windows[-1] == Window(96, 128, 150)  # 32 bars before, the song's 9 bars 151-159 after


def test_window_seeds():
    seeds = np.array([0, 1, 2**31 - 1], np.int32)
    assert window_seeds(seeds, 0).tolist() == seeds.tolist()
    later = [window_seeds(seeds, index) for index in (1, 2)]
    assert later[0].tolist() == [1_000_003, 1_000_004, 1_000_002] and later[1].tolist() == [2_000_006, 2_000_007,
                                                                                                2_000_005]


def test_sampling_256_bars_fills_every_bar_and_keeps_the_bars_across_seams():
    model = FakeModel()
    seeds = np.array([3, 4], np.int32)
    windows = plan_windows(0, 255, known_after=0)
    melodies = run_windows(windows, np.zeros((2, 0, 16), np.int32), seeds, model.infill_windows,
                           model.sample_windows)
    assert melodies.shape == (2, 256, 16)
    assert [call[0] for call in model.calls] == ["sample"] + ["infill"] * 6
    for item, seed in enumerate(seeds):
        onsets = melodies[item] >= 2
        assert onsets[:, 0].all() and onsets.sum() == 256  # every bar has its note
        # each bar holds exactly what the window that made it wrote: later windows kept it across the seams
        for index, window in enumerate(windows):
            window_seed = window_seeds(seeds, index)[item]
            expected = [2 + pattern_pitch(window_seed, bar - window.start) - 21
                        for bar in range(window.first, window.last + 1)]
            assert melodies[item, window.first:window.last + 1, 0].tolist() == expected
    for (_, tokens, keep_bars, _), window in zip(model.calls[1:], windows[1:]):
        assert keep_bars[:, :32].all() and not keep_bars[:, 32:].any()
        given = tokens.reshape(2, 64, 16)[:, :32]  # the 32 kept bars given to the model: the melody so far
        np.testing.assert_array_equal(given, melodies[:, window.start:window.start + 32])


def test_a_span_of_115_bars_in_a_real_song(pop909_dir):
    melody = song_melody(pop909_dir / "043.mid", "MELODY")
    assert melody.steps.shape == (152, 16)
    model = FakeModel()
    windows = plan_windows(5, 119, known_after=152)
    assert len(windows) == 3 and windows[-1].start + 63 > 119  # the last window also sees bars after the span
    out = run_windows(windows, melody.steps[None], [9], model.infill_windows, song_steps=melody.bars.song_steps)
    assert out.shape == (1, 152, 16)
    np.testing.assert_array_equal(out[0, :5], melody.steps[:5])
    np.testing.assert_array_equal(out[0, 120:, 1:], melody.steps[120:, 1:])
    # the first step after the span: the song's, or a note off ending the last new note
    assert out[0, 120, 0] in (melody.steps[120, 0], 1)
    assert (out[0, 5:120, 0] >= 2).all() and (out[0, 5:120] >= 2).sum() == 115
    last_call_keep = model.calls[-1][2][0]
    kept_after = np.flatnonzero(last_call_keep[119 - windows[-1].start + 1:])
    assert len(kept_after) > 0


def test_a_model_that_gives_the_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"the model gave tokens of shape \(1, 16, 32\)"):
        run_windows([Window(0, 0, 63)], np.zeros((1, 64, 16), np.int32), [0], None,
                    lambda seeds: np.zeros((1, 16, 32), np.int32))
