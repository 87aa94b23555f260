"""`symdiff infill` on real songs and `symdiff sample --bars N` with the shipped model (DDIM, few steps): the song
comes back with its own bars, tracks, tempo map and meters; long spans go window by window."""
import mido
import numpy as np
import pytest

from symdiff_tf import cli
from symdiff_tf.cli.commands.generating import BundleModel, model_callables
from symdiff_tf.melody.long_form import plan_windows, run_windows, window_tokens
from symdiff_tf.melody.midi_io import read_midi
from symdiff_tf.melody.render import midi_to_tokens
from symdiff_tf.paths import default_model_root

FAST = ["--scheduler", "ddim", "--steps", "5", "--no-progress"]


def melody_notes(path):
    """{(start tick, end tick, pitch)} of the MELODY track."""
    score = read_midi(path)
    rows = np.array([info.name == "MELODY" for info in score.instruments])[score.instrument]
    return set(zip(score.start_tick[rows].tolist(), score.end_tick[rows].tolist(), score.pitch[rows].tolist()))


def infill(song, bars, out, *options):
    assert cli.main(["infill", str(song), "--track", "MELODY", "--bars", bars, "--seed", "3", "--out", str(out),
                     *FAST, *options]) == 0
    [written] = out.glob("*.mid")
    return written


def kept_and_new(song, written, first_tick, end_tick):
    """(the song's melody notes outside the ticks, the written notes inside them)."""
    old, new = melody_notes(song), melody_notes(written)
    outside = {n for n in old if n[1] <= first_tick or n[0] >= end_tick - 60}
    return outside, old, new, {n for n in new if first_tick <= n[0] < end_tick}


def test_a_4_4_song_at_59_bpm_comes_back_with_new_bars_12_to_20(pop909_dir, tmp_path, capsys):
    song = pop909_dir / "032.mid"
    written = infill(song, "12-20", tmp_path / "out")
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "bars 1-11 and 21-61 are the song's; bars 12-20 are new"
    before, after = mido.MidiFile(song), mido.MidiFile(written)
    assert after.ticks_per_beat == before.ticks_per_beat
    assert [t.name for t in after.tracks] == [t.name for t in before.tracks]
    for old, new in zip(before.tracks, after.tracks):
        if old.name != "MELODY":  # tempo map and meters (track 0), BRIDGE, PIANO: message for message
            assert list(old) == list(new)
    first_tick, end_tick = 11 * 1920, 20 * 1920
    outside, old, new, inside = kept_and_new(song, written, first_tick, end_tick)
    assert outside <= new and len(outside) > 200  # the melody outside bars 12-20, tick for tick
    assert len(inside) >= 4 and all(n[0] % 120 == 0 and n[1] <= end_tick for n in inside)  # 16ths of the song
    assert new - inside - outside <= {(s, first_tick, p) for s, _, p in old}  # a kept note cut where bar 12 starts
    assert inside != {n for n in old if first_tick <= n[0] < end_tick}
    velocities = read_midi(written).velocity[np.isin(read_midi(written).start_tick, [n[0] for n in inside])]
    assert len(set(velocities.tolist())) == 1  # the melody's typical velocity
    assert (tmp_path / "out" / "infill_0003.png").is_file()


def test_song_010_in_2_4_with_1_4_bars(pop909_dir, tmp_path, capsys):
    song = pop909_dir / "010.mid"
    written = infill(song, "17-32", tmp_path / "out")
    out = capsys.readouterr().out
    assert "song bars 1-83 (2/4) -> model bars 1-42, 2 song bars each" in out
    assert "song bars 84-86 (1/4) -> model bar 43" in out
    assert out.strip().splitlines()[-1] == "bars 1-16 and 33-174 are the song's; bars 17-32 are new"
    outside, old, new, inside = kept_and_new(song, written, 32 * 480, 64 * 480)
    assert outside <= new and len(inside) >= 4
    assert all(n[0] % 120 == 0 for n in inside)
    before, after = read_midi(song), read_midi(written)
    for field in ("tempo_ticks", "tempo_qpm", "ts_ticks", "ts_numerators", "ts_denominators"):
        np.testing.assert_array_equal(getattr(before, field), getattr(after, field))
    others = lambda score: sorted(zip(score.start_tick[score.instrument != 0].tolist(),  # noqa: E731
                                      score.pitch[score.instrument != 0].tolist()))
    assert read_midi(song).instruments[0].name == "MELODY" and others(before) == others(after)


def test_a_span_of_more_than_64_bars_melody_only_with_audio(pop909_dir, tmp_path, capsys):
    song = pop909_dir / "043.mid"  # 2 bars of 4/4, then 2/4: 152 model bars
    written = infill(song, "9-250", tmp_path / "out", "--melody-only", "--audio")
    out = capsys.readouterr().out
    assert "3 windows of 64 bars" in out
    assert out.strip().splitlines()[-1] == "bars 1-8 and 251-302 are the song's; bars 9-250 are new"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["infill_0003.mid", "infill_0003.png",
                                                                     "infill_0003.wav"]
    assert [t.name for t in mido.MidiFile(written).tracks] == ["", "MELODY"]
    first_tick, end_tick = 3840 + 6 * 960, 3840 + 248 * 960  # bars 1-2 of 4/4, then bars of 2/4: 9-250
    outside, old, new, inside = kept_and_new(song, written, first_tick, end_tick)
    assert outside <= new
    starts = np.array(sorted(n[0] for n in inside))
    # notes across the whole span: in each eighth of it
    edges = np.linspace(first_tick, end_tick, 9)
    assert all(((starts >= a) & (starts < b)).any() for a, b in zip(edges[:-1], edges[1:]))


def test_sample_256_bars(tmp_path, capsys):
    assert cli.main(["sample", "--bars", "256", "--num", "1", "--seed", "2", "--out", str(tmp_path / "s"),
                     *FAST]) == 0
    assert "7 windows of 64 bars" in capsys.readouterr().out
    tokens = midi_to_tokens(tmp_path / "s" / "sample_0002.mid", n_chunks=128, continuous=True).reshape(256, 16)
    onsets = (tokens >= 2).any(axis=1)
    assert all(onsets[a:a + 16].any() for a in range(0, 256, 16))  # notes in every 16 bars


def test_the_shipped_model_keeps_the_kept_bars_across_seams():
    model = BundleModel(None)
    options = model.options("ddim", 5)
    infill_windows, sample_windows = model_callables(model, options)
    calls = []

    def recording_infill(tokens, keep_bars, seeds):
        out = infill_windows(tokens, keep_bars, seeds)
        calls.append((np.array(tokens), np.array(keep_bars), np.array(out)))
        return out

    windows = plan_windows(0, 159, known_after=0)
    melodies = run_windows(windows, np.zeros((2, 0, 16), np.int32), [0, 1], recording_infill, sample_windows)
    assert len(calls) == len(windows) - 1 == 3
    for tokens, keep_bars, out in calls:
        given, back = tokens.reshape(2, 64, 16), out.reshape(2, 64, 16)
        np.testing.assert_array_equal(back[keep_bars], given[keep_bars])
    for (tokens, keep_bars, _), window in zip(calls, windows[1:]):
        # the bars each window kept are, at the end, still what it was given
        kept = window.first - window.start
        np.testing.assert_array_equal(tokens.reshape(2, 64, 16)[:, :kept],
                                      window_tokens(melodies, window.start).reshape(2, 64, 16)[:, :kept])


@pytest.mark.parametrize("song, message", [("107.mid", "bars 1-169 are in 3/4"), ("203.mid", "are in 6/8")])
def test_meters_that_cannot_be_mapped_are_one_line(pop909_dir, tmp_path, capsys, song, message):
    assert cli.main(["infill", str(pop909_dir / song), "--track", "MELODY", "--bars", "5-8", "--out",
                     str(tmp_path / "x"), *FAST]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_resample_and_repeat_start_are_checked_against_the_scheduler_and_the_bundle(pop909_dir, tmp_path, capsys):
    song = str(pop909_dir / "032.mid")
    version_2, version_3 = default_model_root() / "2", default_model_root() / "3"
    cases = [(["--scheduler", "dpm-solver++", "--steps", "4", "--resample", "2"],
              "--resample 2: the dpm-solver++ scheduler keeps memory across steps"),
             (["--resample", "0", *FAST], "--resample 0: expected a whole number of passes"),
             (["--model", str(version_2), "--resample", "2", *FAST], "infills with one pass per step"),
             (["--repeat-start", "0", *FAST], "--repeat-start 0.0: expected a number in (0, 1]"),
             (["--repeat-start", "1.2", *FAST], "--repeat-start 1.2: expected a number in (0, 1]"),
             (["--model", str(version_3), "--repeat-start", "0.5", *FAST],
              "starts the regenerated bars from noise (exported before the repeat start)")]
    for options, message in cases:
        assert cli.main(["infill", song, "--track", "MELODY", "--bars", "12-20", "--out", str(tmp_path / "x"),
                         *options]) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err


def test_the_shipped_model_infills_with_its_passes_per_step_and_its_repeat_start(pop909_dir, tmp_path, capsys):
    model = BundleModel(None)
    assert model.takes_resample and model.options().resample == model.defaults.sampling.infill_resample > 1
    assert model.takes_repeat_start
    assert model.options().repeat_start == model.defaults.sampling.infill_repeat_start < 1
    once, twice = (infill(pop909_dir / "032.mid", "12-20", tmp_path / f"r{passes}", "--resample", str(passes),
                          "--repeat-start", "1") for passes in (1, 2))
    assert "2 passes per step" in capsys.readouterr().out
    assert melody_notes(once) != melody_notes(twice)
    # ddim-5 from level 500: the steps 400 and 200, from the kept bars 16 after the new ones
    repeated = infill(pop909_dir / "032.mid", "12-20", tmp_path / "s", "--resample", "1", "--repeat-start", "0.5")
    assert "repeat start 0.5 (from the kept bars 16 away)" in capsys.readouterr().out
    assert melody_notes(repeated) != melody_notes(once)
