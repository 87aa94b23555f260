"""Writing a song back with its melody's notes replaced in some ticks: everything else as in the input.

The input file is read with mido and written at the same resolution and format. Only the melody's track(s) change,
and only their notes: a note of the melody whose onset lies in the regenerated ticks is removed (an onset up to
half a 16th step before them counts as inside, as the grid rounds it in), a kept note still sounding when they
begin ends there, and the new notes are added on the melody's most used channel at the given velocity. Every other
event (other tracks, tempo map, time and key signatures, programs, controllers, lyrics, markers, and the melody's
own non-note events) keeps its tick. New notes past the input's end extend the melody track (a continuation: the
last tempo and meter carry on); the track's end moves after its last note.

Units: ticks of the input file.
"""
from __future__ import annotations

import collections
import os

import mido
import numpy as np

NOTE_OFF_FIRST, EXISTING, NOTE_ON_LAST = 0, 1, 2  # order of events at one tick


def _track_name(track) -> str:
    return next((message.name for message in track if message.type == "track_name"), "")


def melody_tracks(midi: mido.MidiFile, track: str | None, path: str) -> list[int]:
    """Indices of the tracks named `track`; None: the one track with notes. ValueError naming the file else."""
    if track is None:
        with_notes = [i for i, t in enumerate(midi.tracks) if any(m.type == "note_on" for m in t)]
        if len(with_notes) != 1:
            raise ValueError(f"{path}: which track holds the melody? name it with --track (tracks: "
                             f"{sorted(_track_name(midi.tracks[i]) for i in with_notes)})")
        return with_notes
    named = [i for i, t in enumerate(midi.tracks) if _track_name(t) == track]
    if not named:
        raise ValueError(f"{path}: no track named {track!r} (tracks: {[_track_name(t) for t in midi.tracks]})")
    return named


def _absolute(track) -> list:
    """[(tick, message)] of a track with absolute ticks."""
    tick, events = 0, []
    for message in track:
        tick += message.time
        events.append((tick, message))
    return events


def _is_note_on(message) -> bool:
    return message.type == "note_on" and message.velocity > 0


def _is_note_off(message) -> bool:
    return message.type == "note_off" or (message.type == "note_on" and message.velocity == 0)


def _edit_track(events: list, first_tick: int, end_tick: int, margin: float):
    """Which events of one track to drop and which note offs to move to `first_tick`, pairing notes as pretty_midi
    does (a note off closes every open note of its channel and pitch that started at an earlier tick).

    Returns (dropped event indices, {event index: new tick}, ticks of the kept onsets at or after the span).
    """
    low, high = first_tick - margin, end_tick - margin
    open_notes = collections.defaultdict(list)  # (channel, pitch) -> indices of open note ons
    dropped, moved = set(), {}
    for index, (tick, message) in enumerate(events):
        if _is_note_on(message):
            open_notes[(message.channel, message.note)].append(index)
        elif _is_note_off(message):
            key = (message.channel, message.note)
            started = [i for i in open_notes[key] if events[i][0] < tick]
            if not started:
                continue
            open_notes[key] = [i for i in open_notes[key] if events[i][0] >= tick]
            inside = [i for i in started if low <= events[i][0] < high]
            dropped.update(inside)
            if len(inside) == len(started):
                dropped.add(index)
            elif tick > first_tick and any(events[i][0] < low for i in started):
                moved[index] = first_tick
    for indices in open_notes.values():  # never closed: pretty_midi ignores them; drop those inside the span
        dropped.update(i for i in indices if low <= events[i][0] < high)
    later_onsets = [tick for i, (tick, message) in enumerate(events)
                    if _is_note_on(message) and tick >= high and i not in dropped]
    return dropped, moved, later_onsets


def _melody_channel(events: list) -> int:
    channels = [message.channel for _, message in events if _is_note_on(message)]
    return collections.Counter(channels).most_common(1)[0][0] if channels else 0


def _as_track(keyed_events: list) -> mido.MidiTrack:
    """A track of (sort key, message) pairs, sort key (tick, rank, sequence), with delta times."""
    track = mido.MidiTrack()
    previous = 0
    for (tick, _, _), message in sorted(keyed_events, key=lambda item: item[0]):
        track.append(message.copy(time=int(tick) - previous))
        previous = int(tick)
    return track


def replace_melody(source, out_path, track: str | None, first_tick: int, end_tick: int, starts, ends, pitches,
                   velocity: int, ticks_per_step: float, melody_only: bool = False):
    """Writes the MIDI file `source` to `out_path` with the melody's notes in ticks [first_tick, end_tick)
    replaced by the notes (starts, ends, pitches), int ticks / MIDI pitches `[n_notes]`, at `velocity`.

    track: the melody's track name (None: the one track with notes). ticks_per_step: a 16th note in ticks (half
    of it is the rounding margin). New notes end by `end_tick` and before the next kept onset of the melody.
    melody_only: write the melody's track(s) alone, with the first track's meta events (tempo map, meters, keys,
    markers) when the first track is not the melody's. Returns `out_path`.
    """
    path = os.fspath(source)
    try:
        midi = mido.MidiFile(path)
    except (OSError, EOFError, ValueError, KeyError, IndexError) as e:
        raise ValueError(f"{path}: cannot read as MIDI ({e})") from None
    chosen = melody_tracks(midi, track, path)
    starts, ends, pitches = (np.asarray(a, np.int64) for a in (starts, ends, pitches))
    tracks = []
    for index, original in enumerate(midi.tracks):
        if index not in chosen:
            if not melody_only:
                tracks.append(original)
            elif index == 0:
                tracks.append(_as_track([((tick, EXISTING, i), message) for i, (tick, message)
                                         in enumerate(_absolute(original)) if message.is_meta]))
            continue
        events = _absolute(original)
        dropped, moved, later_onsets = _edit_track(events, first_tick, end_tick, ticks_per_step / 2)
        keyed = [((moved.get(i, tick), NOTE_OFF_FIRST if i in moved else EXISTING, i), message)
                 for i, (tick, message) in enumerate(events) if i not in dropped and message.type != "end_of_track"]
        if index == chosen[0]:
            limit = min([end_tick] + later_onsets)
            note_ends = np.maximum(np.minimum(ends, limit), starts + 1)
            channel = _melody_channel(events)
            for k, (start, end, pitch) in enumerate(zip(starts.tolist(), note_ends.tolist(), pitches.tolist())):
                keyed.append(((start, NOTE_ON_LAST, k), mido.Message("note_on", channel=channel, note=pitch,
                                                                    velocity=velocity)))
                keyed.append(((end, NOTE_OFF_FIRST, -1 - k), mido.Message("note_off", channel=channel, note=pitch,
                                                                         velocity=0)))
        last_tick = max([key[0] for key, _ in keyed] + [events[-1][0] if events else 0])
        keyed.append(((last_tick, NOTE_ON_LAST + 1, 0), mido.MetaMessage("end_of_track")))
        tracks.append(_as_track(keyed))
    written = mido.MidiFile(type=midi.type, ticks_per_beat=midi.ticks_per_beat, charset=midi.charset)
    written.tracks.extend(tracks)
    written.save(os.fspath(out_path))
    return out_path
