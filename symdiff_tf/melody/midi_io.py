"""Reading Standard MIDI Files into flat numpy arrays, identical to `note_seq.midi_file_to_note_sequence`.

`read_midi(path) -> Score` gives the notes, the instrument numbering, the tempo map and the time signatures that
note-seq 0.0.5 (which goes through pretty_midi 0.2.11 and mido 1.3) gives for the same file, bit for bit, without
building one Python object per MIDI message. See docs/midi_io.md for what is guaranteed and how odd files are
handled.

Units: times in seconds (float64), positions in MIDI ticks (int64), tempos in quarter notes per minute.
"""
from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

# file name endings (lower case) of Standard MIDI Files; `.kar` (karaoke) is a MIDI file with lyric events
MIDI_SUFFIXES = (".mid", ".midi", ".kar")


class MidiReadError(ValueError):
    """A file could not be read as MIDI; the message names the file and the cause."""


@dataclasses.dataclass(frozen=True)
class InstrumentInfo:
    """One instrument as pretty_midi / note-seq number them: one per (track, channel, program) that plays notes.

    name: the track's name when the instrument's first note ended ('' if none); program: General MIDI program
    0..127; is_drum: the notes are on MIDI channel 10.
    """

    name: str
    program: int
    is_drum: bool


@dataclasses.dataclass(frozen=True)
class Score:
    """The content of one MIDI file, in note-seq's order and numbering.

    Notes (one row each, in the order of `NoteSequence.notes`), all arrays `[n_notes]`:
      pitch, velocity: int64 MIDI values; start, end: float64 seconds; start_tick, end_tick: int64 ticks;
      instrument: int64 index into `instruments`; program: int64; is_drum: bool.
    Tempo map, arrays `[n_tempos]` (the first is always at time 0; 120 qpm when the file sets none):
      tempo_times: float64 seconds; tempo_qpm: float64 quarters per minute; tempo_ticks: int64.
    Time signatures from the first track, arrays `[n_time_signatures]`:
      ts_times: float64 seconds; ts_numerators, ts_denominators: int64; ts_ticks: int64.
    total_time: the latest note end in seconds (0.0 without notes), as note-seq's `total_time`.
    """

    path: str
    ticks_per_quarter: int
    pitch: np.ndarray
    velocity: np.ndarray
    start: np.ndarray
    end: np.ndarray
    start_tick: np.ndarray
    end_tick: np.ndarray
    instrument: np.ndarray
    program: np.ndarray
    is_drum: np.ndarray
    instruments: list
    tempo_times: np.ndarray
    tempo_qpm: np.ndarray
    tempo_ticks: np.ndarray
    ts_times: np.ndarray
    ts_numerators: np.ndarray
    ts_denominators: np.ndarray
    ts_ticks: np.ndarray
    total_time: float

    @property
    def n_notes(self) -> int:
        return int(self.pitch.shape[0])



# note-seq raises pretty_midi's largest allowed tick to this on import
_MAX_TICK = 1e10
# mido refuses meta and sysex payloads longer than this
_MAX_MESSAGE_LENGTH = 1_000_000
# data bytes that follow a system status byte, as mido reads them (0xf4, 0xf5, 0xf9, 0xfd are undefined)
_SYSTEM_DATA_BYTES = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0, 0xFE: 0}
_INT32_MAX = 2**31 - 1


class _Invalid(Exception):
    """Raised inside the parser with the cause; `read_midi` turns it into a MidiReadError naming the file."""


def read_midi(path) -> Score:
    """Reads the Standard MIDI File at `path` into a Score, exactly as `note_seq.midi_file_to_note_sequence` would.

    A file note-seq cannot read (empty, truncated, not MIDI, a data byte over 127, an undefined status byte, an
    undecodable meta event, an empty track, a tempo of 0, ...) raises MidiReadError naming the file and the cause.
    The one other refusal: files timed in SMPTE frames (negative division), which note-seq turns into negative times.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise MidiReadError(f"{path}: cannot open ({e.strerror or e})") from None
    try:
        return _parse(path, data)
    except _Invalid as e:
        raise MidiReadError(f"{path}: {e}") from None
    except IndexError:
        raise MidiReadError(f"{path}: truncated MIDI data (the file ends inside an event)") from None


def _parse(path: str, data: bytes) -> Score:
    if not data:
        raise _Invalid("empty file (0 bytes)")
    if data[:4] != b"MThd":
        raise _Invalid("not a MIDI file (no MThd header)")
    if len(data) < 8:
        raise _Invalid("truncated MIDI header")
    size = int.from_bytes(data[4:8], "big")
    if size < 6 or len(data) < 14:
        raise _Invalid("truncated MIDI header")
    n_tracks = int.from_bytes(data[10:12], "big", signed=True)
    division = int.from_bytes(data[12:14], "big", signed=True)
    if division == 0:
        raise _Invalid("the header gives 0 ticks per quarter note")
    if division < 0:
        raise _Invalid("SMPTE time division (frames per second) is not supported")
    if n_tracks <= 0:
        raise _Invalid("the file holds no tracks")

    notes = _Notes()
    tempos = []  # (tick, microseconds per quarter) from the first track
    signatures = []  # (tick, numerator, denominator) from the first track
    last_tick = 0
    pos = 8 + size
    for track_index in range(n_tracks):
        if len(data) < pos + 8:
            raise _Invalid(f"truncated: the file ends before track {track_index + 1} of {n_tracks}")
        if data[pos:pos + 4] != b"MTrk":
            raise _Invalid(f"chunk {track_index + 1} of {n_tracks} is not a track (no MTrk header)")
        start = pos + 8
        end = start + int.from_bytes(data[pos + 4:pos + 8], "big")
        if end > len(data):
            raise _Invalid(f"truncated: track {track_index + 1} of {n_tracks} runs past the end of the file")
        pos, track_last_tick = _read_track(data, start, end, track_index, notes,
                                           tempos if track_index == 0 else None,
                                           signatures if track_index == 0 else None)
        last_tick = max(last_tick, track_last_tick)
    if last_tick + 1 > _MAX_TICK:
        raise _Invalid(f"largest tick {last_tick + 1} is implausibly large (corrupt file)")
    return _build_score(path, division, notes, tempos, signatures)


class _Notes:
    """Notes as pretty_midi closes them, and the instruments in the order pretty_midi creates them."""

    def __init__(self):
        self.instrument, self.pitch, self.velocity, self.start_tick, self.end_tick = [], [], [], [], []
        self.instruments = []


def _read_track(data: bytes, pos: int, end: int, track_index: int, notes: _Notes, tempos, signatures):
    """Parses one MTrk chunk's events from `pos` to `end`, pairing note-ons and note-offs like pretty_midi.

    Returns (end, tick of the last event). Appends finished notes to `notes`; tempo and time-signature events to
    `tempos` / `signatures` when those are lists (first track only).
    """
    tick = 0
    running = -1  # running status byte; -1 = none yet
    track_name = ""
    programs = [0] * 16
    open_notes = {}  # channel * 128 + pitch -> [(start tick, velocity), ...]
    instrument_of = {}  # channel * 128 + program -> instrument index (per track)
    n_events = 0
    out_instrument, out_pitch, out_velocity = notes.instrument.append, notes.pitch.append, notes.velocity.append
    out_start, out_end = notes.start_tick.append, notes.end_tick.append
    while pos < end:
        n_events += 1
        byte = data[pos]
        pos += 1
        if byte & 0x80:
            delta = byte & 0x7F
            while True:
                byte = data[pos]
                pos += 1
                delta = (delta << 7) | (byte & 0x7F)
                if byte < 0x80:
                    break
            tick += delta
        else:
            tick += byte
        status = data[pos]
        pos += 1
        if status >= 0xF0:
            if status != 0xFF:
                running = status
            pos, track_name = _read_system(data, pos, status, None, tick, track_name, tempos, signatures)
            continue
        if status >= 0x80:
            running = status
            first = data[pos]
            pos += 1
        elif running < 0:
            raise _Invalid(f"track {track_index + 1}: running status without a preceding status byte")
        elif running >= 0xF0:
            pos, track_name = _read_system(data, pos, running, status, tick, track_name, tempos, signatures)
            continue
        else:
            first = status
            status = running
        kind = status & 0xF0
        if kind == 0xC0 or kind == 0xD0:
            second = 0
        else:
            second = data[pos]
            pos += 1
        if first > 127 or second > 127:
            raise _Invalid(f"track {track_index + 1}: data byte must be in range 0..127")
        if kind == 0x90 and second:
            key = ((status & 0x0F) << 7) | first
            started = open_notes.get(key)
            if started is None:
                open_notes[key] = [(tick, second)]
            else:
                started.append((tick, second))
        elif kind == 0x80 or kind == 0x90:
            key = ((status & 0x0F) << 7) | first
            started = open_notes.get(key)
            if started is None:
                continue
            if started[-1][0] != tick:
                to_close = started
                del open_notes[key]
            else:
                to_close = [note for note in started if note[0] != tick]
                if to_close:
                    open_notes[key] = [note for note in started if note[0] == tick]
                else:
                    del open_notes[key]
                    continue
            channel = status & 0x0F
            program = programs[channel]
            instrument = instrument_of.get((channel << 7) | program)
            if instrument is None:
                instrument = len(notes.instruments)
                instrument_of[(channel << 7) | program] = instrument
                notes.instruments.append(InstrumentInfo(track_name, program, channel == 9))
            for start_tick, velocity in to_close:
                out_instrument(instrument)
                out_pitch(first)
                out_velocity(velocity)
                out_start(start_tick)
                out_end(tick)
        elif kind == 0xC0:
            programs[status & 0x0F] = first
    if pos != end:
        raise _Invalid(f"track {track_index + 1}: an event runs past the end of its track chunk")
    if n_events == 0:
        raise _Invalid(f"track {track_index + 1} holds no events")
    return end, tick


def _read_variable_int(data: bytes, pos: int):
    value = 0
    while True:
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos


def _read_payload(data: bytes, pos: int):
    length, pos = _read_variable_int(data, pos)
    if length > _MAX_MESSAGE_LENGTH:
        raise _Invalid(f"message length {length} exceeds {_MAX_MESSAGE_LENGTH}")
    if pos + length > len(data):
        raise IndexError
    return data[pos:pos + length], pos + length


def _read_system(data: bytes, pos: int, status: int, running_byte, tick: int, track_name: str, tempos, signatures):
    """Reads a meta, sysex or system message whose status byte is `status` (already consumed).

    `running_byte` is the data byte read in place of a status byte under running status (mido keeps it for
    system messages and drops it for sysex). Validates like mido and pretty_midi; returns (pos, track name).
    """
    if status == 0xFF:
        meta_type = data[pos]
        payload, pos = _read_payload(data, pos + 1)
        _check_meta(meta_type, payload, tick, tempos, signatures)
        if meta_type == 0x03:
            track_name = payload.decode("latin-1")
        return pos, track_name
    if status == 0xF0 or status == 0xF7:
        payload, pos = _read_payload(data, pos)
        if payload[:1] == b"\xf0":
            payload = payload[1:]
        if payload[-1:] == b"\xf7":
            payload = payload[:-1]
        if payload and max(payload) > 127:
            raise _Invalid("sysex data byte must be in range 0..127")
        return pos, track_name
    n_data = _SYSTEM_DATA_BYTES.get(status)
    if n_data is None:
        raise _Invalid(f"undefined status byte 0x{status:02x}")
    if running_byte is not None:
        if n_data == 0:
            raise _Invalid(f"data byte after status byte 0x{status:02x}, which takes none")
        n_data -= 1
    payload = data[pos:pos + n_data]
    if len(payload) < n_data:
        raise IndexError
    if payload and max(payload) > 127:
        raise _Invalid("data byte must be in range 0..127")
    return pos + n_data, track_name


def _check_meta(meta_type: int, payload: bytes, tick: int, tempos, signatures):
    """Rejects what mido, pretty_midi or note-seq reject in a meta event; keeps first-track tempos and meters."""
    n = len(payload)
    if meta_type == 0x51:
        if n < 3:
            raise _Invalid("set_tempo event shorter than 3 bytes")
        if tempos is not None:
            tempo = (payload[0] << 16) | (payload[1] << 8) | payload[2]
            if tempo == 0:
                raise _Invalid("tempo of 0 microseconds per quarter note")
            tempos.append((tick, tempo))
    elif meta_type == 0x58:
        if n < 4:
            raise _Invalid("time_signature event shorter than 4 bytes")
        denominator = 2 ** payload[1]
        exponent = math.log(denominator, 2)
        if exponent != int(exponent):  # mido's own test, which fails for some large powers of 2
            raise _Invalid(f"time signature denominator 2**{payload[1]} rejected by mido")
        if signatures is not None:
            if payload[0] == 0:
                raise _Invalid("time signature numerator 0")
            if denominator > _INT32_MAX:
                raise _Invalid(f"invalid time signature denominator {denominator}")
            signatures.append((tick, payload[0], denominator))
    elif meta_type == 0x59:
        if n < 2:
            raise _Invalid("key_signature event shorter than 2 bytes")
        sharps = payload[0] - 256 if payload[0] > 127 else payload[0]
        if not (-7 <= sharps <= 7 and payload[1] in (0, 1)):
            raise _Invalid(f"could not decode key signature ({sharps} sharps, mode {payload[1]})")
    elif meta_type == 0x00:
        if n == 1:
            raise _Invalid("sequence_number event of 1 byte")
    elif meta_type == 0x20:
        if n == 0:
            raise _Invalid("empty channel_prefix event")
    elif meta_type == 0x54:
        if n < 5 or payload[0] >> 5 > 3 or payload[1] > 59 or payload[2] > 59 or payload[4] > 99:
            raise _Invalid("invalid smpte_offset event")


def _build_score(path: str, division: int, notes: _Notes, tempos: list, signatures: list) -> Score:
    """Arrays in note-seq's order, with pretty_midi's tick->seconds arithmetic reproduced operation by operation."""
    scale_ticks = [0]
    scales = [60.0 / (120.0 * division)]
    for tick, tempo in tempos:
        scale = 60.0 / ((6e7 / tempo) * division)
        if tick == 0:
            scales = [scale]
        elif scale != scales[-1]:
            scale_ticks.append(tick)
            scales.append(scale)
    offsets = [0.0]  # seconds at each tempo change, accumulated as pretty_midi does
    for i in range(1, len(scales)):
        offsets.append(offsets[-1] + scales[i - 1] * float(scale_ticks[i] - scale_ticks[i - 1]))
    scale_ticks = np.array(scale_ticks, np.int64)
    scales = np.array(scales, np.float64)
    offsets = np.array(offsets, np.float64)

    def seconds(ticks: np.ndarray) -> np.ndarray:
        segment = np.searchsorted(scale_ticks, ticks, side="right") - 1
        return offsets[segment] + scales[segment] * (ticks - scale_ticks[segment])

    instrument = np.array(notes.instrument, np.int64)
    order = np.argsort(instrument, kind="stable")
    instrument = instrument[order]
    start_tick = np.array(notes.start_tick, np.int64)[order]
    end_tick = np.array(notes.end_tick, np.int64)[order]
    programs = np.array([info.program for info in notes.instruments], np.int64)
    drums = np.array([info.is_drum for info in notes.instruments], bool)
    end = seconds(end_tick)
    ts_ticks = np.array([t for t, _, _ in signatures], np.int64)
    return Score(
        path=path, ticks_per_quarter=division,
        pitch=np.array(notes.pitch, np.int64)[order], velocity=np.array(notes.velocity, np.int64)[order],
        start=seconds(start_tick), end=end, start_tick=start_tick, end_tick=end_tick,
        instrument=instrument, program=programs[instrument], is_drum=drums[instrument],
        instruments=list(notes.instruments),
        tempo_times=seconds(scale_ticks), tempo_qpm=60.0 / (scales * division), tempo_ticks=scale_ticks,
        ts_times=seconds(ts_ticks), ts_numerators=np.array([n for _, n, _ in signatures], np.int64),
        ts_denominators=np.array([d for _, _, d in signatures], np.int64), ts_ticks=ts_ticks,
        total_time=float(end.max()) if len(end) else 0.0)
