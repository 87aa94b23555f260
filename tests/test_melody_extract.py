"""Melody extraction, 2-bar chunks, rest flags and windows on small hand-made MIDI files (no magenta, no TF).

Expected chunks are written out by hand from magenta's rules (../shared/docs/original.md §1.1-1.4). Files use
480 ticks per quarter: one 16th-note step is 120 ticks; at 120 qpm a step is 0.125 s.
"""
import mido
import numpy as np
import pytest

from symdiff_tf.melody import file_to_chunks, file_to_melodies
from symdiff_tf.melody.chunks import melody_to_chunks, rest_chunks
from symdiff_tf.melody.extract import PieceTooLongError, TrackNotFoundError, extract_melodies
from symdiff_tf.melody.midi_io import MidiReadError
from symdiff_tf.melody.windows import melody_windows, stack_windows, window_starts

TPQ = 480
STEP = TPQ // 4


def write_midi(path, tracks, tempos=((0, 120.0),), time_signatures=((0, 4, 4),)):
    """A type-1 MIDI file. tracks: [(name, channel, [(start_step, end_step, pitch), ...])]; tempos: [(step, qpm)];
    time_signatures: [(step, numerator, denominator)]. Steps are 16th notes (120 ticks)."""
    midi = mido.MidiFile(type=1, ticks_per_beat=TPQ)
    meta = [(step * STEP, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(qpm))) for step, qpm in tempos]
    meta += [(step * STEP, mido.MetaMessage("time_signature", numerator=n, denominator=d))
             for step, n, d in time_signatures]
    midi.tracks.append(_track(meta))
    for name, channel, notes in tracks:
        events = [(0, mido.MetaMessage("track_name", name=name))]
        for start, end, pitch in notes:
            events.append((start * STEP, mido.Message("note_on", channel=channel, note=pitch, velocity=90)))
            events.append((end * STEP, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
        midi.tracks.append(_track(events))
    midi.save(path)
    return path


def _track(timed_messages):
    track = mido.MidiTrack()
    now = 0
    # note offs before note ons at the same tick, as sequencers write them
    for tick, message in sorted(timed_messages, key=lambda m: (m[0], m[1].type == "note_on")):
        track.append(message.copy(time=tick - now))
        now = tick
    return track


def classes(length, events):
    """A chunk of `length` steps: 0 everywhere except {step: class}."""
    chunk = np.zeros(length, np.int32)
    for step, value in events.items():
        chunk[step] = value
    return chunk


def pitch_class(pitch):
    return pitch - 21 + 2


LEAD = [(0, 4, 60), (0, 2, 64),  # shared onset: the higher note (64) wins, with its own end
        (4, 12, 67), (8, 10, 65),  # a new onset cuts the sounding note
        (16, 20, 72),  # second bar
        (60, 62, 74)]  # last note ends at 62: padded to 64 with a note off
LEAD_CHUNKS = np.stack([
    classes(32, {0: pitch_class(64), 2: 1, 4: pitch_class(67), 8: pitch_class(65), 10: 1, 16: pitch_class(72),
                 20: 1}),
    classes(32, {28: pitch_class(74), 30: 1}),
])


def test_monophonic_rules_and_chunks(tmp_path):
    path = write_midi(tmp_path / "lead.mid", [("lead", 0, LEAD)])
    (chunks,) = file_to_chunks(path)
    np.testing.assert_array_equal(chunks, LEAD_CHUNKS)
    (record,) = file_to_melodies(path)
    assert record.start_step == 0 and record.steps_per_bar == 16 and record.track == "lead"
    np.testing.assert_array_equal(record.rests, [False, True])  # chunk 2 has no onset in its first bar
    assert record.events.tolist()[:11] == [64, -2, -1, -2, 67, -2, -2, -2, 65, -2, -1]
    assert len(record.events) == 62  # the last note's note off is not stored (magenta strips it)


def test_melody_starts_at_the_bar_of_its_first_note(tmp_path):
    shifted = [(s + 20, e + 20, p) for s, e, p in LEAD]  # first note in bar 2 (steps 16..31), at its 5th step
    path = write_midi(tmp_path / "late.mid", [("lead", 0, shifted)])
    (record,) = file_to_melodies(path)
    assert record.start_step == 16
    assert record.start_seconds == pytest.approx(16 * 0.125)
    assert record.chunks[0, 4] == pitch_class(64) and record.chunks[0, :4].tolist() == [0, 0, 0, 0]


def test_drums_give_an_empty_melody_in_magenta_order(tmp_path):
    drums = [(s, s + 1, 36) for s in range(0, 64, 4)]
    path = write_midi(tmp_path / "band.mid", [("drums", 9, drums), ("lead", 0, LEAD)])
    records = file_to_melodies(path)
    assert [(r.track, r.n_chunks) for r in records] == [("drums", 0), ("lead", 2)]
    chunks = file_to_chunks(path)
    assert chunks[0].shape == (0, 32)
    np.testing.assert_array_equal(chunks[1], LEAD_CHUNKS)


def test_track_selection(tmp_path):
    bass = [(s, s + 8, 40) for s in range(0, 64, 8)]
    path = write_midi(tmp_path / "two.mid", [("BASS", 1, bass), ("MELODY", 0, LEAD)])
    assert len(file_to_chunks(path)) == 2
    (chunks,) = file_to_chunks(path, track="MELODY")
    np.testing.assert_array_equal(chunks, LEAD_CHUNKS)
    with pytest.raises(TrackNotFoundError, match="two.mid.*'VOCALS'"):
        file_to_chunks(path, track="VOCALS")


def test_out_of_range_pitches_are_dropped_and_the_first_bar_moves(tmp_path):
    notes = [(0, 4, 110), (20, 24, 60), (36, 44, 62), (40, 44, 15)]
    path = write_midi(tmp_path / "range.mid", [("lead", 0, notes)])
    (record,) = file_to_melodies(path)
    assert record.start_step == 0 and record.events[0] == 110  # extraction keeps every pitch
    # The converter drops 110 and 15 and re-extracts from the bar of note 60 (steps 16..): one chunk. Note 62
    # was cut at step 40 by the (dropped) pitch 15, and the padding adds its note off.
    expected = classes(32, {4: pitch_class(60), 8: 1, 20: pitch_class(62), 24: 1})
    np.testing.assert_array_equal(record.chunks, expected[None])
    assert record.rests.tolist() == [False]


def test_three_four_is_regridded_to_four_four(tmp_path):
    notes = [(14, 18, 60), (26, 30, 62)]
    path = write_midi(tmp_path / "waltz.mid", [("lead", 0, notes)], time_signatures=[(0, 3, 4)])
    (record,) = file_to_melodies(path)
    assert record.steps_per_bar == 12 and record.start_step == 12  # bar 2 of the 3/4 grid
    # to_sequence() drops the time signature: the converter counts 16-step bars from the piece start.
    expected = classes(32, {14: pitch_class(60), 18: 1, 26: pitch_class(62), 30: 1})
    np.testing.assert_array_equal(record.chunks, expected[None])


def test_non_integer_steps_per_bar_yields_nothing(tmp_path):
    path = write_midi(tmp_path / "odd.mid", [("lead", 0, LEAD)], time_signatures=[(0, 7, 32)])
    assert file_to_chunks(path) == []


def phrase():
    """Eight bars of quarter and eighth notes: a phrase that tempo changes can cut."""
    notes, step = [], 0
    for i in range(40):
        length = 4 if i % 3 else 2
        notes.append((step, step + length, 60 + (i * 5) % 17))
        step += length
    return notes


def test_beats_mode_ignores_tempo_changes_mid_phrase(tmp_path):
    """Issue 8: with tempo changes inside notes, beat mode puts every note on the same steps as a constant tempo."""
    notes = phrase()
    steady = write_midi(tmp_path / "steady.mid", [("MELODY", 0, notes)])
    rubato = write_midi(tmp_path / "rubato.mid", [("MELODY", 0, notes)],
                        tempos=[(0, 120.0), (9, 93.0), (37, 141.0), (70, 77.5)])
    paper = file_to_melodies(rubato, quantize="paper")
    assert len(paper) == 4  # the paper's extraction cuts the song at each tempo change
    (steady_record,) = file_to_melodies(steady, quantize="paper")
    (beats_record,) = file_to_melodies(rubato, quantize="beats")
    np.testing.assert_array_equal(beats_record.events, steady_record.events)
    assert beats_record.start_step == steady_record.start_step
    np.testing.assert_array_equal(beats_record.chunks, steady_record.chunks)
    assert beats_record.n_chunks == 4
    assert file_to_melodies(steady, quantize="beats")[0].chunks.tolist() == steady_record.chunks.tolist()


def test_pop909_song_with_a_tempo_map_stays_one_melody_in_beats_mode(pop909_dir):
    path = pop909_dir / "020.mid"  # 24 tempo events
    paper = file_to_melodies(path, track="MELODY")
    assert [r.n_chunks for r in paper] == [4, 2, 1, 0, 3, 1, 4, 2, 1, 3, 2, 2, 5, 3, 1, 5, 2]
    (beats,) = file_to_melodies(path, track="MELODY", quantize="beats")
    assert beats.n_chunks == 43 and beats.quantize == "beats"
    assert len(window_starts(beats.n_chunks, 32, allow_rests=True)) == 12


def test_beats_mode_starts_a_new_bar_grid_at_a_time_signature_change(tmp_path):
    notes = [(0, 4, 60), (24, 28, 62), (40, 44, 64)]
    path = write_midi(tmp_path / "meter.mid", [("lead", 0, notes)], tempos=[(0, 120.0), (30, 100.0)],
                      time_signatures=[(0, 4, 4), (36, 3, 4)])
    records = file_to_melodies(path, quantize="beats")
    assert [(r.split_index, r.steps_per_bar, r.start_step) for r in records] == [(0, 16, 0), (1, 12, 0)]
    assert records[1].events[4] == 64  # step 40 is step 4 of the 3/4 piece starting at step 36
    assert records[1].start_seconds == pytest.approx(30 * 0.125 + 6 * 0.15)  # 100 qpm after step 30


def test_too_long_piece_is_skipped(tmp_path):
    hour_and_more = 7202 * 4  # 7202 quarters at 120 qpm = 3601 s
    path = write_midi(tmp_path / "long.mid", [("lead", 0, [(0, 4, 60), (hour_and_more - 4, hour_and_more, 62)])])
    with pytest.raises(PieceTooLongError, match="long.mid"):
        extract_melodies(path)
    assert file_to_chunks(path) == []


def test_unreadable_file_names_the_file(tmp_path):
    path = tmp_path / "empty.mid"
    path.write_bytes(b"")
    with pytest.raises(MidiReadError, match="empty.mid"):
        file_to_chunks(path)


def test_chunks_truncate_at_100_bars_and_clean_leading_note_offs():
    bar_notes = np.full(16, -2, np.int16)
    bar_notes[0] = 60
    events = np.tile(bar_notes, 120)  # 120 bars of whole notes
    chunks = melody_to_chunks(events)
    assert chunks.shape == (50, 32)
    assert (chunks[:, [0, 16]] == pitch_class(60)).all() and (chunks[:, 1:16] == 0).all()

    events = np.full(64, -2, np.int16)
    events[0], events[32], events[40] = 60, -1, 62  # note off at the first step of chunk 2
    chunks = melody_to_chunks(events)
    np.testing.assert_array_equal(chunks, [classes(32, {0: pitch_class(60)}), classes(32, {8: pitch_class(62)})])


def test_rest_flags():
    chunks = np.stack([
        classes(32, {}),  # silent
        classes(32, {0: 41, 16: 1}),  # the only note ends with bar 1
        classes(32, {0: 41, 17: 1}),  # ... one step later: encoded
        classes(32, {20: 41}),  # no onset in bar 1
        classes(32, {3: 41, 5: 1, 20: 43, 22: 1}),
        classes(32, {0: 41}),  # held to the end
        classes(32, {0: 41, 4: 1, 10: 43, 12: 1, 14: 45, 15: 1}),  # all notes in bar 1
    ])
    assert rest_chunks(chunks).tolist() == [True, True, False, True, False, False, True]


def test_window_starts_fix_the_original_bugs():
    assert window_starts(32, allow_rests=True).tolist() == [0]
    assert window_starts(32, allow_rests=True, original_bugs=True).tolist() == []  # needed 33 chunks
    assert window_starts(34, allow_rests=True).tolist() == [0, 1, 2]
    assert window_starts(34, allow_rests=True, original_bugs=True).tolist() == [0, 1]
    rests = np.zeros(34, bool)
    rests[0] = True
    assert window_starts(34, rests=rests).tolist() == [1, 2]
    assert window_starts(34, rests=rests, original_bugs=True).tolist() == [0, 1]  # rest at position 0 missed
    rests[33] = True
    assert window_starts(34, rests=rests).tolist() == [1]
    assert window_starts(40, length=16, stride=5, allow_rests=True).tolist() == [0, 5, 10, 15, 20]
    assert window_starts(10, length=16, allow_rests=True).tolist() == []
    with pytest.raises(ValueError, match="rests"):
        window_starts(34)


def test_stacked_windows():
    chunks = np.arange(40 * 32).reshape(40, 32)
    rests = np.zeros(40, bool)
    rests[20] = True
    windows = melody_windows(chunks, rests, length=16, stride=2)
    assert windows.shape == (5, 16, 32)  # starts 0, 2, 4 end before the rest; 22, 24 start after it
    np.testing.assert_array_equal(windows[1], chunks[2:18])
    np.testing.assert_array_equal(windows[3], chunks[22:38])
    latents = np.random.default_rng(0).normal(size=(40, 7))
    stacked = stack_windows(latents, np.array([3, 24]), length=16)
    np.testing.assert_array_equal(stacked[1], latents[24:40])
    with pytest.raises(ValueError, match="do not fit"):
        stack_windows(latents, np.array([25]), length=16)
