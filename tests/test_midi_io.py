"""The fast MIDI reader against note_seq.midi_file_to_note_sequence (its reference), and bad input."""
import warnings

import mido
import numpy as np
import pytest

from midi_files import drums_only, good_song, out_of_range, tempo_map_song, waltz, write_midi
from symdiff_tf.melody.midi_io import MidiReadError, read_midi

note_seq = pytest.importorskip("note_seq")


def note_seq_or_error(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return note_seq.midi_file_to_note_sequence(str(path))
        except note_seq.MIDIConversionError:
            return None


def assert_same_as_note_seq(path):
    """read_midi and note-seq agree exactly: same failure, or the same notes, tempos, meters, names."""
    sequence = note_seq_or_error(path)
    if sequence is None:
        with pytest.raises(MidiReadError):
            read_midi(path)
        return False
    score = read_midi(path)
    notes = sequence.notes
    assert score.n_notes == len(notes), path
    for field, attribute in [("pitch", "pitch"), ("velocity", "velocity"), ("start", "start_time"),
                             ("end", "end_time"), ("instrument", "instrument"), ("program", "program"),
                             ("is_drum", "is_drum")]:
        np.testing.assert_array_equal(getattr(score, field), [getattr(n, attribute) for n in notes],
                                      err_msg=f"{path}: {field}")
    np.testing.assert_array_equal(score.tempo_times, [t.time for t in sequence.tempos])
    np.testing.assert_array_equal(score.tempo_qpm, [t.qpm for t in sequence.tempos])
    np.testing.assert_array_equal(score.ts_times, [t.time for t in sequence.time_signatures])
    np.testing.assert_array_equal(score.ts_numerators, [t.numerator for t in sequence.time_signatures])
    np.testing.assert_array_equal(score.ts_denominators, [t.denominator for t in sequence.time_signatures])
    assert score.total_time == sequence.total_time
    assert score.ticks_per_quarter == sequence.ticks_per_quarter
    assert {i: info.name for i, info in enumerate(score.instruments) if info.name} == \
        {info.instrument: info.name for info in sequence.instrument_infos}
    # ticks agree with seconds through the tempo map
    for ticks, seconds in [(score.start_tick, score.start), (score.end_tick, score.end), (score.ts_ticks, score.ts_times)]:
        i = np.searchsorted(score.tempo_ticks, ticks, side="right") - 1
        expected = score.tempo_times[i] + (ticks - score.tempo_ticks[i]) * 60.0 / (
            score.tempo_qpm[i] * score.ticks_per_quarter)
        np.testing.assert_allclose(seconds, expected, rtol=1e-9, atol=1e-9)
    return True


def test_lakh_sample_matches_note_seq(lakh_dir):
    files = sorted(lakh_dir.rglob("*.mid"))
    assert len(files) == 43
    read = [assert_same_as_note_seq(path) for path in files]
    assert sum(read) == 41  # the 2 files pretty_midi rejects (a data byte > 127) are rejected here too


def test_pop909_matches_note_seq(pop909_dir):
    files = sorted(pop909_dir.glob("*.mid"))[::30]
    assert len(files) == 31
    assert all(assert_same_as_note_seq(path) for path in files)


@pytest.mark.slow
def test_all_pop909_matches_note_seq(pop909_dir):
    assert all(assert_same_as_note_seq(path) for path in sorted(pop909_dir.glob("*.mid")))


def test_pairing_rules_match_pretty_midi(tmp_path):
    """Same-tick on/off (dropped), repeated note-ons closed by one off, velocity-0 offs, a program change between
    on and off (the off's program decides the instrument), unclosed notes, spurious offs, a track name after the
    first note, drums, sysex and running status (mido writes it)."""
    on = lambda note, t=0, ch=0, vel=64: mido.Message("note_on", note=note, velocity=vel, channel=ch, time=t)
    off = lambda note, t=0, ch=0: mido.Message("note_off", note=note, velocity=0, channel=ch, time=t)
    track = [on(60), on(60, 10), off(60, 10),  # two ons, one off closes both
             on(62), off(62),  # zero length: dropped
             on(64, 5), off(64, 5), on(64), off(64, 7),  # off + on at one tick, then off
             on(65, 3), on(65, 4), off(65), off(65, 2),  # on at the off's tick survives, closed later
             mido.Message("sysex", data=[1, 2, 3], time=1),
             on(67, 1), mido.Message("program_change", program=33, time=2), off(67, 3),
             on(69, 1, vel=100), on(69, 0, vel=0), off(71, 4),  # velocity-0 off; spurious off
             mido.MetaMessage("track_name", name="late name", time=1),
             on(72, 1), off(72, 5), on(36, 0, ch=9), off(36, 9, ch=9), on(74, 3)]  # 74 never closed
    path = write_midi(tmp_path / "pairing.mid", [[mido.MetaMessage("set_tempo", tempo=400000, time=0)], track,
                                                 [on(50, 0, ch=3), off(50, 100, ch=3)]])
    assert assert_same_as_note_seq(path)
    score = read_midi(path)
    assert [i.name for i in score.instruments][:2] == ["", ""] and score.instruments[-2].name == "late name"
    assert 62 not in score.pitch.tolist() and 74 not in score.pitch.tolist()
    assert score.is_drum[score.pitch == 36].all()


def test_hundreds_of_tempo_changes_match_note_seq(tmp_path):
    path = tempo_map_song(tmp_path / "tempi.mid", n_changes=300)
    assert assert_same_as_note_seq(path)
    score = read_midi(path)
    assert len(score.tempo_qpm) > 150  # repeated tempi are merged, as pretty_midi does
    np.testing.assert_array_equal(score.start_tick, np.arange(64) * 240)


def test_three_four_and_drums_and_out_of_range(tmp_path):
    score = read_midi(waltz(tmp_path / "waltz.mid"))
    assert (score.ts_numerators.tolist(), score.ts_denominators.tolist()) == ([3], [4])
    assert read_midi(drums_only(tmp_path / "drums.mid")).is_drum.all()
    assert read_midi(out_of_range(tmp_path / "low.mid")).n_notes == 64
    for name in ("waltz.mid", "drums.mid", "low.mid"):
        assert assert_same_as_note_seq(tmp_path / name)


def test_seconds_follow_the_tempo_map(tmp_path):
    score = read_midi(good_song(tmp_path / "song.mid"))
    np.testing.assert_array_equal(score.start, np.arange(64) * 0.25)  # eighths at 120 qpm
    assert score.total_time == 16.0 and score.ticks_per_quarter == 480


@pytest.mark.parametrize("make, cause", [
    (lambda p, real: p.write_bytes(b""), "empty"),
    (lambda p, real: p.write_text("MIDI? no, just text\n" * 20), "not a MIDI file"),
    (lambda p, real: p.write_bytes(real.read_bytes()[:len(real.read_bytes()) // 2]), "truncated"),
    (lambda p, real: p.write_bytes(real.read_bytes()[:11]), "truncated"),
    (lambda p, real: p.write_bytes(real.read_bytes()[:14]), "truncated"),
])
def test_bad_files_raise_naming_file_and_cause(tmp_path, pop909_dir, make, cause):
    path = tmp_path / "bad.mid"
    make(path, pop909_dir / "001.mid")
    with pytest.raises(MidiReadError, match=cause) as error:
        read_midi(path)
    assert str(path) in str(error.value)
    assert isinstance(error.value, ValueError)
    assert note_seq_or_error(path) is None  # note-seq rejects them too


def test_missing_file(tmp_path):
    with pytest.raises(MidiReadError, match="missing.mid"):
        read_midi(tmp_path / "missing.mid")


def _raw_midi(*track_bodies, division=480):
    chunks = [b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + len(track_bodies).to_bytes(2, "big")
              + division.to_bytes(2, "big", signed=True)]
    chunks += [b"MTrk" + len(body).to_bytes(4, "big") + body for body in track_bodies]
    return b"".join(chunks)


END = b"\x00\xff\x2f\x00"
NOTE = b"\x00\x90\x3c\x40\x60\x80\x3c\x00"


@pytest.mark.parametrize("name, data", [
    ("data byte over 127", _raw_midi(b"\x00\x90\x3c\x90\x60\x80\x3c\x00" + END)),
    ("running status at start", _raw_midi(b"\x00\x3c\x40" + END)),
    ("undefined status", _raw_midi(NOTE + b"\x00\xf4" + END)),
    ("bad key signature", _raw_midi(NOTE + b"\x00\xff\x59\x02\x09\x00" + END)),
    ("short tempo", _raw_midi(b"\x00\xff\x51\x02\x07\xa1" + NOTE + END)),
    ("tempo 0 in track 0", _raw_midi(b"\x00\xff\x51\x03\x00\x00\x00" + NOTE + END)),
    ("tempo 0 in track 1 (ignored)", _raw_midi(END, b"\x00\xff\x51\x03\x00\x00\x00" + NOTE + END)),
    ("time signature numerator 0", _raw_midi(b"\x00\xff\x58\x04\x00\x02\x18\x08" + NOTE + END)),
    ("time signature 2**29", _raw_midi(b"\x00\xff\x58\x04\x04\x1d\x18\x08" + NOTE + END)),
    ("time signature 2**40", _raw_midi(b"\x00\xff\x58\x04\x04\x28\x18\x08" + NOTE + END)),
    ("empty track", _raw_midi(NOTE + END, b"")),
    ("no tracks", _raw_midi()),
    ("event past its chunk", _raw_midi(NOTE + END)[:-1] + b"\x00"),
    ("sysex byte over 127", _raw_midi(b"\x00\xf0\x03\x01\x90\xf7" + NOTE + END)),
    ("sysex ok + running status", _raw_midi(b"\x00\xf0\x03\x01\x02\xf7\x00\x90\x3c\x40\x60\x3c\x00" + END)),
    ("system message ok", _raw_midi(b"\x00\xf2\x01\x02" + NOTE + b"\x00\xf8" + END)),
    ("running status after realtime", _raw_midi(b"\x00\xf8\x00\x01" + NOTE + END)),
    ("smpte offset bad minutes", _raw_midi(b"\x00\xff\x54\x05\x01\x4a\x00\x00\x00" + NOTE + END)),
    ("unknown meta", _raw_midi(b"\x00\xff\x60\x02\x01\x02" + NOTE + END)),
    ("smpte division", _raw_midi(NOTE + END, division=-7688)),
])
def test_odd_files_fail_or_read_like_note_seq(tmp_path, name, data):
    path = tmp_path / "odd.mid"
    path.write_bytes(data)
    if name == "smpte division":  # note-seq gives negative times; we refuse (docs/midi_io.md)
        with pytest.raises(MidiReadError, match="SMPTE"):
            read_midi(path)
        return
    assert_same_as_note_seq(path)


def test_mutated_files_fail_or_read_like_note_seq(tmp_path, pop909_dir, lakh_dir):
    """Random byte changes, deletions and insertions in real files (seeded): each mutant must fail in both readers
    or read identically. Half keep data bytes under 128 so that many mutants stay readable."""
    rng = np.random.default_rng(7)
    sources = [pop909_dir / "001.mid"] + sorted(lakh_dir.rglob("*.mid"), key=lambda p: p.stat().st_size)[:3]
    outcomes = []
    for k in range(60):
        data = bytearray(sources[k % len(sources)].read_bytes())
        for _ in range(int(rng.choice([1, 2, 5]))):
            i = int(rng.integers(len(data)))
            if k % 2 and data[i] < 128:
                data[i] = int(rng.integers(128))
            elif rng.random() < 0.6:
                data[i] = int(rng.integers(256))
            elif rng.random() < 0.5:
                del data[i]
            else:
                data.insert(i, int(rng.integers(256)))
        path = tmp_path / f"mutant{k}.mid"
        path.write_bytes(bytes(data))
        outcomes.append(assert_same_as_note_seq(path))
    assert 5 < sum(outcomes) < 55  # both outcomes occur
