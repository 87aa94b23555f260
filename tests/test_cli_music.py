"""Music in and out of the command line: `symdiff sample` and `symdiff infill SONG.mid --bars A-B` with a bundle
(`--model`) and with a run directory plus `--vae`; kept bars come back with the song's own notes."""
import numpy as np
import pytest

from symdiff_tf import cli
from symdiff_tf.cli.commands.bundle_io import model_dir
from symdiff_tf.generation.generator import Generator
from symdiff_tf.generation.song import song_window
from symdiff_tf.melody.render import midi_to_tokens
from test_generation import make_tiny_run


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(vae path, run, bundle parent folder holding version 1)."""
    root = tmp_path_factory.mktemp("music")
    vae, run = make_tiny_run(root)
    assert cli.main(["export", "--vae", str(vae), "--diffusion", str(run), "--out", str(root / "bundle" / "1")]) == 0
    return vae, run, root / "bundle"


def test_sample_writes_midi_and_piano_rolls_and_each_seed_is_one_melody(tiny, tmp_path):
    vae, run, bundle = tiny
    assert cli.main(["sample", "--model", str(bundle), "--num", "3", "--seed", "7", "--out", str(tmp_path / "a"),
                     "--steps", "4", "--no-progress"]) == 0
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "sample_0007.mid", "sample_0007.png", "sample_0008.mid", "sample_0008.png", "sample_0009.mid",
        "sample_0009.png", "sample_grid.png"]
    # melody 8 is the same alone (seed 8) as second of three; and the library's run + VAE path gives it too
    assert cli.main(["sample", "--model", str(bundle / "1"), "--num", "1", "--seed", "8", "--out",
                     str(tmp_path / "b"), "--steps", "4", "--no-progress"]) == 0
    assert (tmp_path / "a" / "sample_0008.mid").read_bytes() == (tmp_path / "b" / "sample_0008.mid").read_bytes()
    assert cli.main(["sample", "--checkpoint", str(run), "--vae", str(vae), "--num", "1", "--seed", "8", "--out",
                     str(tmp_path / "c"), "--steps", "4", "--no-progress"]) == 0
    np.testing.assert_array_equal(midi_to_tokens(tmp_path / "b" / "sample_0008.mid"),
                                  midi_to_tokens(tmp_path / "c" / "sample_0008.mid"))


@pytest.mark.parametrize("bars", ["17-32", "18-31"])
def test_infill_keeps_the_songs_own_notes_outside_the_bars(tiny, tmp_path, pop909_dir, bars):
    vae, run, bundle = tiny
    song = pop909_dir / "002.mid"
    out = tmp_path / "out"
    assert cli.main(["infill", str(song), "--bars", bars, "--track", "MELODY", "--model", str(bundle), "--out",
                     str(out), "--steps", "4", "--no-progress"]) == 0
    window = song_window(song, tuple(int(b) for b in bars.split("-")), track="MELODY", quantize="beats")
    written = midi_to_tokens(out / "infill_0042.mid", n_chunks=32, continuous=True).reshape(64, 16)
    given = window.tokens.reshape(64, 16)
    kept = window.keep_bars.copy()
    kept[np.flatnonzero(kept)[-1]] = False  # the last kept bar may lose a note held into the generated bars
    first, last = (int(b) for b in bars.split("-"))
    before = kept[:first - 1]
    np.testing.assert_array_equal(written[:first - 1][before], given[:first - 1][before])
    assert not np.array_equal(written[first - 1:last], given[first - 1:last])
    # the library path (run + VAE) gives the same kept bars
    library = Generator.from_files(vae, run).infill(window.tokens, window.keep_bars, [42], steps=4, progress=None)
    np.testing.assert_array_equal(library.tokens[0].reshape(64, 16)[window.keep_bars], given[window.keep_bars])


def test_bad_music_inputs(tiny, tmp_path, pop909_dir, capsys):
    vae, run, bundle = tiny
    assert cli.main(["sample", "--model", str(tmp_path), "--out", str(tmp_path / "x")]) == 1
    assert "no SavedModel bundle" in capsys.readouterr().err
    song = str(pop909_dir / "002.mid")
    assert cli.main(["infill", song, "--bars", "1-64", "--track", "MELODY", "--model", str(bundle), "--out",
                     str(tmp_path / "y")]) == 1
    assert "keeps no bar" in capsys.readouterr().err
    assert cli.main(["infill", song, "--track", "MELODY", "--model", str(bundle), "--out", str(tmp_path / "y")]) == 1
    assert "--bars" in capsys.readouterr().err
    assert cli.main(["infill", str(tmp_path / "nope.mid"), "--bars", "3-4", "--model", str(bundle), "--out",
                     str(tmp_path / "y")]) == 1
    assert "nope.mid: no such MIDI file" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no SavedModel"):
        model_dir(tmp_path)
