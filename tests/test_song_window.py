"""A user's song as an infilling window (`symdiff_tf.generation.song`), on real POP909 songs."""
import numpy as np
import pytest

from symdiff_tf.generation.song import parse_bars, song_window
from symdiff_tf.melody import file_to_chunks


def test_song_window_keeps_the_bars_around_the_gap(pop909_dir):
    song = pop909_dir / "003.mid"
    chunks = file_to_chunks(song, "MELODY")[0]
    window = song_window(song, parse_bars("17-48"), track="MELODY")
    np.testing.assert_array_equal(window.tokens, chunks[:32])
    assert window.input_bars == 64 and window.track == "MELODY"
    np.testing.assert_array_equal(np.flatnonzero(~window.keep_bars), np.arange(16, 48))
    short = song_window(pop909_dir / "002.mid", (9, 12), track="MELODY", melody=1)
    assert short.input_bars == 30
    np.testing.assert_array_equal(short.tokens[:15], file_to_chunks(pop909_dir / "002.mid", "MELODY")[1])
    assert not short.tokens[15:].any()
    np.testing.assert_array_equal(np.flatnonzero(short.keep_bars), [*range(8), *range(12, 30)])
    later = song_window(song, (40, 41), track="MELODY", start_bar=3)
    np.testing.assert_array_equal(later.tokens[:31], chunks[1:32])
    assert later.input_bars == 62 and not later.keep_bars[37:39].any() and later.keep_bars[36]


@pytest.mark.parametrize("bars, options, message", [
    ("0-4", {}, "1 <= A <= B"),
    ("10-5", {}, "1 <= A <= B"),
    ("x", {}, "expected A-B"),
    ("60-70", {}, "the model sees 64 bars, here 1-64"),
    ("5-8", {"start_bar": 2}, "odd bar"),
    ("5-8", {"melody": 3}, "has 2 melodies"),
])
def test_song_window_says_what_is_wrong(pop909_dir, bars, options, message):
    with pytest.raises(ValueError, match=message):
        song_window(pop909_dir / "002.mid", parse_bars(bars), track="MELODY", **options)
