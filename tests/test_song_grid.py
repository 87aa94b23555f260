"""A real song's own bars, its melody on the model's grid, and the song written back (no model: a fake one)."""
import mido
import numpy as np
import pytest

from midi_files import conductor_track, melody_track, write_midi
from symdiff_tf.generation.song import plan_song, regenerate_song, write_song
from symdiff_tf.melody.midi_io import read_midi
from symdiff_tf.melody.song_grid import SongGrid, song_melody

TICKS_PER_STEP = 120  # POP909: 480 ticks per quarter


def fake_infill(tokens, keep_bars, seeds):
    """A model that writes, in every regenerated bar, one note at its first step lasting half a bar, with a pitch
    that says which bar of the window and which seed made it; kept bars come back as given."""
    out = np.array(tokens).reshape(len(tokens), 64, 16)
    for item in range(len(out)):
        for bar in np.flatnonzero(~keep_bars[item]):
            out[item, bar] = 0
            out[item, bar, 0] = 2 + 40 + (int(seeds[item]) + bar) % 30
            out[item, bar, 8] = 1
    return out.reshape(np.shape(tokens))


def melody_notes(path):
    """{(start tick, end tick, pitch)} of the MELODY track."""
    score = read_midi(path)
    rows = np.array([info.name == "MELODY" for info in score.instruments])[score.instrument]
    return set(zip(score.start_tick[rows].tolist(), score.end_tick[rows].tolist(), score.pitch[rows].tolist()))


def regenerate(song, bars, out, **options):
    plan = plan_song(song, bars, track="MELODY")
    steps = regenerate_song(plan, [5], fake_infill)
    _, span = write_song(plan, steps[0], out, **options)
    return plan, span


def test_song_010_bars_are_its_own_and_the_mapping_is_stated(pop909_dir):
    grid = SongGrid.from_score(read_midi(pop909_dir / "010.mid"))
    assert grid.song_bars == 174
    assert grid.mapping_lines() == [
        "song bars 1-83 (2/4) -> model bars 1-42, 2 song bars each; model bar 42 holds bar 83 alone (+2 beats of "
        "padding)",
        "song bars 84-86 (1/4) -> model bar 43, 4 song bars each; model bar 43 holds bars 84-86 (+1 beat of padding)",
        "song bars 87-174 (2/4) -> model bars 44-87, 2 song bars each"]
    assert [grid.bar_tick(bar) for bar in (1, 17, 84, 87, 88)] == [0, 32 * 480, 79680, 81120, 82080]
    assert [grid.model_bar_of_song_bar(bar) for bar in (17, 18, 83, 84, 86, 87, 89)] == [8, 8, 41, 42, 42, 43, 44]
    bars = grid.model_bars(45)
    assert bars.song_steps[40:45].tolist() == [16, 8, 12, 16, 16]
    assert bars.start_tick[42:44].tolist() == [79680, 81120]


@pytest.mark.parametrize("name, message", [("107", "bars 1-169 are in 3/4"), ("203", "bars 1-151 are in 6/8")])
def test_meters_that_do_not_map_are_refused_in_one_line(pop909_dir, name, message):
    with pytest.raises(ValueError, match=message) as error:
        song_melody(pop909_dir / f"{name}.mid", "MELODY")
    assert str(pop909_dir / f"{name}.mid") in str(error.value) and "\n" not in str(error.value)


def test_time_signature_written_mid_bar_waits_for_the_bar_line(tmp_path):
    song = write_midi(tmp_path / "late.mid", [
        conductor_track() + [mido.MetaMessage("time_signature", numerator=2, denominator=4, time=2500)],
        melody_track([60] * 16)])
    grid = SongGrid.from_score(read_midi(song))
    assert [(m.first_bar, m.tick, m.name) for m in grid.meters] == [(1, 0, "4/4"), (3, 3840, "2/4")]


@pytest.mark.parametrize("name", ["010", "032"])
def test_melody_keeps_every_note_across_its_rests(pop909_dir, name):
    melody = song_melody(pop909_dir / f"{name}.mid", "MELODY")
    flat = melody.steps.reshape(-1)
    onsets = np.flatnonzero(flat >= 2)
    notes = sorted(melody_notes(pop909_dir / f"{name}.mid"))
    silent_bars = np.flatnonzero(~(melody.steps >= 2).any(axis=1))
    assert len(silent_bars) >= 5 and silent_bars.min() < onsets.max() // 16  # rests of bars inside the melody
    onset_ticks = melody.grid.step_ticks(melody.bars, onsets)
    note_ticks = np.array([start for start, _, _ in notes])
    # every melody note lies within half a step of a grid onset and every onset within half a step of a note;
    # only notes less than a 16th apart (grace notes) share an onset
    distance = np.abs(onset_ticks[:, None] - note_ticks[None])
    assert distance.min(axis=0).max() <= TICKS_PER_STEP / 2 and distance.min(axis=1).max() <= TICKS_PER_STEP / 2
    assert len(notes) - 5 <= len(onsets) <= len(notes)
    nearest = distance.argmin(axis=1)
    alone = (distance <= TICKS_PER_STEP / 2).sum(axis=1) == 1
    assert (flat[onsets][alone] == np.array([p - 21 + 2 for _, _, p in notes])[nearest][alone]).all()
    assert alone.mean() > 0.95


def test_regenerated_bars_of_a_4_4_song_at_59_bpm(pop909_dir, tmp_path):
    song = pop909_dir / "032.mid"
    assert round(read_midi(song).tempo_qpm[0]) == 59
    plan, (first_tick, end_tick) = regenerate(song, (12, 20), tmp_path / "out.mid")
    assert plan.summary() == "bars 1-11 and 21-61 are the song's; bars 12-20 are new"
    assert (first_tick, end_tick) == (11 * 1920, 20 * 1920)
    before, after = mido.MidiFile(song), mido.MidiFile(tmp_path / "out.mid")
    assert after.ticks_per_beat == before.ticks_per_beat and len(after.tracks) == len(before.tracks)
    for old, new in zip(before.tracks, after.tracks):
        if old.name != "MELODY":  # tempo map, meters, BRIDGE, PIANO: every message, every delta time
            assert list(old) == list(new)
    old_notes, new_notes = melody_notes(song), melody_notes(tmp_path / "out.mid")
    margin = TICKS_PER_STEP // 2
    outside = {n for n in old_notes if n[0] < first_tick - margin or n[0] >= end_tick - margin}
    sounding_in = {n for n in outside if n[0] < first_tick < n[1]}
    assert outside - sounding_in <= new_notes  # the melody outside the bars: same ticks, exactly
    assert {(s, first_tick, p) for s, _, p in sounding_in} <= new_notes
    assert len([n for n in old_notes if n[0] >= 38 * 1920]) > 50  # after the 9-bar rest: the song's own
    inside = sorted(new_notes - outside - {(s, first_tick, p) for s, _, p in sounding_in})
    assert len(inside) == 9  # the fake writes one note per model bar: bars 12..20
    assert [start for start, _, _ in inside] == [bar * 1920 for bar in range(11, 20)]
    assert all(end - start == 960 for start, end, _ in inside)  # half a bar, on the song's beat grid


def test_non_note_events_of_the_melody_track_are_kept(pop909_dir, tmp_path):
    song = pop909_dir / "032.mid"
    regenerate(song, (12, 20), tmp_path / "out.mid")

    def others(path):
        track = [t for t in mido.MidiFile(path).tracks if t.name == "MELODY"][0]
        tick, kept = 0, []
        for message in track:
            tick += message.time
            if message.type not in ("note_on", "note_off", "end_of_track"):
                kept.append((tick, message.copy(time=0)))
        return kept

    assert others(song) == others(tmp_path / "out.mid") and len(others(song)) >= 2


def test_song_010_kept_bars_are_exact(pop909_dir, tmp_path):
    song = pop909_dir / "010.mid"
    plan, (first_tick, end_tick) = regenerate(song, (17, 32), tmp_path / "out.mid")
    assert any("song bars 84-86 (1/4) -> model bar 43" in line for line in plan.lines())
    assert (first_tick, end_tick) == (32 * 480, 64 * 480)
    old_notes, new_notes = melody_notes(song), melody_notes(tmp_path / "out.mid")
    outside = {n for n in old_notes if n[1] <= first_tick or n[0] >= end_tick - TICKS_PER_STEP // 2}
    assert outside <= new_notes and len(outside) > 250
    after_the_1_4_bars = {n for n in old_notes if n[0] >= 81120}
    assert after_the_1_4_bars <= new_notes and len(after_the_1_4_bars) > 100
    before, after = read_midi(song), read_midi(tmp_path / "out.mid")
    for field in ("tempo_ticks", "tempo_qpm", "ts_ticks", "ts_numerators", "ts_denominators"):
        np.testing.assert_array_equal(getattr(before, field), getattr(after, field))


def test_bars_past_the_end_continue_the_song(pop909_dir, tmp_path):
    song = pop909_dir / "042.mid"
    plan, (first_tick, end_tick) = regenerate(song, (60, 80), tmp_path / "out.mid")
    assert plan.summary() == "bars 1-59 are the song's; bars 60-80 are new (66-80 continue past the song's end)"
    new_notes = melody_notes(tmp_path / "out.mid")
    assert max(start for start, _, _ in new_notes) == 79 * 1920  # the fake's note in bar 80
    before, after = mido.MidiFile(song), mido.MidiFile(tmp_path / "out.mid")
    assert [list(t) for t in before.tracks if t.name != "MELODY"] == \
           [list(t) for t in after.tracks if t.name != "MELODY"]


def test_melody_only_keeps_the_tempo_map(pop909_dir, tmp_path):
    song = pop909_dir / "032.mid"
    regenerate(song, (12, 20), tmp_path / "out.mid", melody_only=True)
    written = mido.MidiFile(tmp_path / "out.mid")
    assert [t.name for t in written.tracks] == ["", "MELODY"]
    before, after = read_midi(song), read_midi(tmp_path / "out.mid")
    np.testing.assert_array_equal(before.tempo_qpm, after.tempo_qpm)
    assert {info.name for info in after.instruments} == {"MELODY"}


@pytest.mark.parametrize("bars, options, message", [
    ((17, 32), {"start_bar": 2}, "--start-bar 2: the model's bars start at song bar 1"),
    ((17, 32), {"start_bar": 21}, "bars 17-32 are not inside the 64-bar window from --start-bar 21 \\(song bars "
                                  "21-148\\)"),
    ((17, 32), {"track": "VOICE"}, "no track named 'VOICE'"),
])
def test_what_cannot_be_done_is_said(pop909_dir, bars, options, message):
    options = {"track": "MELODY", **options}
    with pytest.raises(ValueError, match=message):
        plan_song(pop909_dir / "010.mid", bars, **options)


def test_the_song_path_imports_no_tensorflow():
    import subprocess
    import sys

    code = ("import sys; import symdiff_tf.generation.song, symdiff_tf.melody.audio, symdiff_tf.melody.pianoroll; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
