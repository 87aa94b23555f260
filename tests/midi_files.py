"""Small MIDI files made up for tests (written with mido into a tmp folder; no real data copied)."""
import mido


def write_midi(path, tracks, ticks_per_beat=480):
    """Writes a type-1 MIDI file. tracks: lists of mido messages with delta times in ticks. Returns `path`."""
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    for messages in tracks:
        midi.tracks.append(mido.MidiTrack(messages))
    midi.save(str(path))
    return path


def melody_track(pitches, step_ticks=240, channel=0, name="MELODY", program=0):
    """A track of consecutive notes, each `step_ticks` long (eighth notes at 480 ticks per beat)."""
    messages = [mido.MetaMessage("track_name", name=name, time=0),
                mido.Message("program_change", program=program, channel=channel, time=0)]
    for pitch in pitches:
        messages.append(mido.Message("note_on", note=pitch, velocity=90, channel=channel, time=0))
        messages.append(mido.Message("note_off", note=pitch, velocity=0, channel=channel, time=step_ticks))
    return messages


def conductor_track(tempos=((0, 500000),), numerator=4, denominator=4):
    """Track 0: a time signature and tempo events given as (delta ticks, microseconds per quarter)."""
    messages = [mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0)]
    for delta, tempo in tempos:
        messages.append(mido.MetaMessage("set_tempo", tempo=tempo, time=delta))
    return messages


SCALE = [60, 62, 64, 65, 67, 69, 71, 72] * 8  # 64 eighth notes = 8 bars of 4/4


def good_song(path):
    """8 bars of 4/4 at 120 qpm: one melody track."""
    return write_midi(path, [conductor_track(), melody_track(SCALE)])


def waltz(path):
    """A 3/4 piece: 64 eighth notes = 10 2/3 bars of 3/4."""
    return write_midi(path, [conductor_track(numerator=3, denominator=4), melody_track(SCALE)])


def tempo_map_song(path, n_changes=300):
    """The melody of `good_song` under `n_changes` tempo changes, one every 60 ticks (a 32nd note)."""
    tempos = [(0, 500000)] + [(60, 400000 + 997 * (i % 200)) for i in range(n_changes)]
    return write_midi(path, [conductor_track(tempos), melody_track(SCALE)])


def drums_only(path):
    """Notes only on channel 10 (drums)."""
    return write_midi(path, [conductor_track(), melody_track([36, 38, 42, 46] * 16, channel=9, name="DRUMS")])


def out_of_range(path):
    """Notes only outside MIDI pitches 21..108."""
    return write_midi(path, [conductor_track(), melody_track([12, 15, 110, 120] * 16)])
