"""Monophonic melody extraction from a MIDI file, as the paper did it or on the beat grid.

Two ways to put notes on the 16th-note grid (`quantize=`):

- `"paper"` (default, magenta-identical): what `utils/song_utils.extract_melodies` of
  magenta/symbolic-music-diffusion did with note-seq (../shared/docs/original.md §1.1). The piece is cut at every
  tempo and every time-signature change (`note_seq.split_note_sequence_on_time_changes`); each piece is quantised
  in seconds at its own tempo, 4 steps per quarter (`quantize_note_sequence`, round half up). A song with a tempo
  map falls apart into many short pieces (issue 8).
- `"beats"`: notes are placed on the beat grid of the MIDI file itself, from their tick positions and the file's
  resolution (ticks per quarter), so tempo changes move nothing and a song stays one melody. Time-signature
  changes still start a new bar grid (a new piece). Precisely: the paper mode run on the file re-timed at its
  first tempo (`at_first_tempo`), i.e. on a copy without its later tempo events. So a file without tempo changes
  gives exactly the paper mode's melodies, and rounding (half a step, float noise included) is the paper's.

In both modes, for every piece and every instrument (in the order magenta yields them), one melody is built with
the rules of `note_seq.Melody.from_quantized_sequence(ignore_polyphonic_notes=True, gap_bars=inf)`: drum and
velocity-0 notes are skipped, the highest note wins on a shared onset, a new onset cuts the sounding note, silences
never end the melody, and the melody starts at the first step of the bar holding its first note. A piece whose
bar is not a whole number of steps (e.g. 7/32) yields no melody, like magenta's `NonIntegerStepsPerBarError`.
Instruments with notes but no usable ones (drums) still yield an empty melody, as in the original.

Units: times in seconds, positions in MIDI ticks or in steps (16th notes at 4 steps per quarter).
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from symdiff_tf.melody import midi_io

STEPS_PER_QUARTER = 4
MAX_SECONDS = 3600.0
QUANTIZE_MODES = ("paper", "beats")
DEFAULT_QPM = 120.0

NO_EVENT = -2
NOTE_OFF = -1


def default_quantize(track: str | None) -> str:
    """The quantisation used when none is asked for: "beats" when a `track` is named (own training data, e.g.
    POP909's MELODY track), else "paper" (reproducing the paper on Lakh). docs/deviations.md §1.1."""
    return "beats" if track else "paper"


class PieceTooLongError(ValueError):
    """The piece lasts more than `MAX_SECONDS`; the paper skipped such NoteSequences."""


class TrackNotFoundError(ValueError):
    """No instrument of the file carries the requested track name."""


@dataclasses.dataclass(frozen=True)
class Melody:
    """One monophonic melody, in magenta's `note_seq.Melody` event encoding.

    events: int16 [n_steps]; -2 = no event (hold or rest), -1 = note off, 0..127 = onset of that MIDI pitch. One
        event per step of the piece's grid (4 steps per quarter). As in magenta, the note off that ends the last
        note is not stored: the last note lasts until the end of `events`.
    start_step: first step of the melody (a bar start) counted from the start of its score.
    steps_per_bar: steps in one bar of the piece's time signature (16 in 4/4, 12 in 3/4).
    instrument: index of the source instrument (pretty_midi / note-seq numbering); track: its name ('' if none);
    program: its General MIDI program.
    split_index: which piece of the file (0-based), after cutting at tempo/time-signature changes ("paper") or
        time-signature changes only ("beats").
    start_seconds: where the melody's first bar starts in the source file, in seconds.
    """

    events: np.ndarray
    start_step: int
    steps_per_bar: int
    instrument: int
    track: str
    program: int
    split_index: int
    start_seconds: float


def keep_instruments(score: midi_io.Score, keep: np.ndarray) -> midi_io.Score:
    """A copy of `score` holding only the notes of the instruments where `keep[instrument]` is True.

    Timing stays the file's: tempo map, time signatures and `total_time` (as when the original removed notes
    from a NoteSequence with `CopyFrom` and `del notes[:]`).
    """
    rows = np.asarray(keep, bool)[score.instrument]
    fields = ("pitch", "velocity", "start", "end", "start_tick", "end_tick", "instrument", "program", "is_drum")
    return dataclasses.replace(score, **{f: getattr(score, f)[rows] for f in fields})


def tick_to_seconds(score: midi_io.Score, tick: float) -> float:
    """Seconds at a (fractional) tick position, from the score's tempo map."""
    i = max(int(np.searchsorted(score.tempo_ticks, tick, side="right")) - 1, 0)
    seconds_per_tick = 60.0 / (score.tempo_qpm[i] * score.ticks_per_quarter)
    return float(score.tempo_times[i] + (tick - score.tempo_ticks[i]) * seconds_per_tick)


def extract_melodies(path, track: str | None = None, quantize: str = "paper") -> list[Melody]:
    """All melodies of the MIDI file at `path`, in the order magenta's extraction yields them.

    track: keep only the instruments named `track` (e.g. POP909's "MELODY"); raises TrackNotFoundError when no
        instrument has that name. Timing (tempo map, time signatures, total length) stays the file's.
    quantize: "paper" (magenta-identical, split at every tempo and time-signature change) or "beats" (beat grid
        from MIDI ticks, split at time-signature changes only).
    Raises PieceTooLongError for pieces over `MAX_SECONDS` (the paper skipped them), ValueError for an unknown
    mode or a time signature magenta cannot quantise, and `midi_io.MidiReadError` for a file that cannot be read.
    """
    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"quantize must be one of {QUANTIZE_MODES}, got {quantize!r}")
    score = midi_io.read_midi(path)
    if track is not None:
        names = [info.name for info in score.instruments]
        keep = np.array([name == track for name in names], bool)
        if not keep.any():
            raise TrackNotFoundError(f"{os.fspath(path)}: no track named {track!r} (tracks: {sorted(set(names))})")
        score = keep_instruments(score, keep)
    if score.total_time > MAX_SECONDS:
        raise PieceTooLongError(
            f"{os.fspath(path)}: {score.total_time:.0f} s is longer than {MAX_SECONDS:.0f} s (skipped, as in the paper)")
    try:
        if quantize == "paper":
            return _paper_melodies(score)
        steady, seconds_per_tick = at_first_tempo(score)
        return [dataclasses.replace(m, start_seconds=tick_to_seconds(score, m.start_seconds / seconds_per_tick))
                for m in _paper_melodies(steady)]
    except ValueError as e:
        raise ValueError(f"{os.fspath(path)}: {e}") from None


def at_first_tempo(score: midi_io.Score) -> tuple[midi_io.Score, float]:
    """The score as if its tempo never changed: every tick timed at the tempo in force at tick 0.

    This is what `midi_io.read_midi` gives for a copy of the file without its later tempo events, float for float
    (pretty_midi's seconds per tick, `60 / ((6e7 / microseconds_per_quarter) * ticks_per_quarter)`, times the
    tick). Returns (that score, its seconds per tick).
    """
    microseconds_per_quarter = round(6e7 / float(score.tempo_qpm[0]))
    seconds_per_tick = 60.0 / ((6e7 / microseconds_per_quarter) * score.ticks_per_quarter)
    end = seconds_per_tick * score.end_tick
    return dataclasses.replace(
        score, start=seconds_per_tick * score.start_tick, end=end,
        tempo_times=score.tempo_times[:1], tempo_qpm=score.tempo_qpm[:1], tempo_ticks=score.tempo_ticks[:1],
        ts_times=seconds_per_tick * score.ts_ticks, total_time=float(end.max()) if len(end) else 0.0,
    ), seconds_per_tick


# ---------------------------------------------------------------------------------------------------------------
# Splitting into pieces with one time signature and one tempo


def _change_points(score: midi_io.Score) -> list:
    """Positions where `split_note_sequence_on_time_changes` cuts, as indices into the sorted change list.

    Returns (kind, index) pairs of the changes that open a new piece, kind 0 = time signature, 1 = tempo. As in
    note-seq, changes at or after the last note end are ignored, a change that repeats the current value is not a
    cut, and the state starts at 4/4 and 120 qpm.
    """
    total_time = score.total_time
    changes = [(float(t), 0, i) for i, t in enumerate(score.ts_times)]
    changes += [(float(t), 1, i) for i, t in enumerate(score.tempo_times)]
    changes.sort(key=lambda c: c[0])  # stable: time signatures before tempos at equal times, as in note-seq
    numerator, denominator, qpm = 4, 4, DEFAULT_QPM
    last_split = 0.0
    cuts = []
    for time, kind, i in changes:
        if time >= total_time:
            continue
        if kind == 0:
            value = (int(score.ts_numerators[i]), int(score.ts_denominators[i]))
            if value == (numerator, denominator):
                continue
            numerator, denominator = value
        else:
            value = float(score.tempo_qpm[i])
            if value == qpm:
                continue
            qpm = value
        if time > last_split:
            cuts.append((kind, i))
            last_split = time
    return cuts


def _last_at_or_before(times: np.ndarray, position) -> int:
    """Index of the last event (in stable time order) whose time is <= `position`, or -1."""
    order = np.argsort(times, kind="stable")
    count = int(np.searchsorted(times[order], position, side="right"))
    return int(order[count - 1]) if count else -1


def _steps_per_bar(numerator: int, denominator: int):
    """Steps per bar as magenta computes it (a float), after its time-signature checks."""
    if numerator <= 0 or denominator <= 0 or denominator & (denominator - 1):
        raise ValueError(f"time signature {numerator}/{denominator} cannot be quantised (magenta raises "
                         "BadTimeSignatureError)")
    return STEPS_PER_QUARTER * (4.0 / denominator * numerator)


def _paper_melodies(score: midi_io.Score) -> list[Melody]:
    total_time = score.total_time
    if total_time <= 0.0:
        return []
    cuts = _change_points(score)
    split_times = [0.0] + [float((score.ts_times, score.tempo_times)[kind][i]) for kind, i in cuts] + [total_time]
    order = np.argsort(score.start, kind="stable")
    split_of_note = np.searchsorted(np.asarray(split_times), score.start[order], side="right") - 1
    melodies = []
    for k, (split_start, split_end) in enumerate(zip(split_times[:-1], split_times[1:])):
        rows = order[split_of_note == k]
        if not len(rows):
            continue
        ts = _last_at_or_before(score.ts_times, split_start)
        numerator, denominator = ((int(score.ts_numerators[ts]), int(score.ts_denominators[ts])) if ts >= 0
                                  else (4, 4))
        tempo = _last_at_or_before(score.tempo_times, split_start)
        qpm = float(score.tempo_qpm[tempo]) if tempo >= 0 else DEFAULT_QPM
        steps_per_bar = _steps_per_bar(numerator, denominator)
        if steps_per_bar % 1 != 0:
            continue
        steps_per_second = STEPS_PER_QUARTER * qpm / 60.0
        # quantize_to_step: int(seconds * steps_per_second + 0.5), end clipped at the split, never shorter than 1.
        q_start = ((score.start[rows] - split_start) * steps_per_second + 0.5).astype(np.int64)
        q_end = ((np.minimum(score.end[rows], split_end) - split_start) * steps_per_second + 0.5).astype(np.int64)
        q_end = np.where(q_end == q_start, q_end + 1, q_end)
        seconds_per_step = 60.0 / qpm / STEPS_PER_QUARTER
        for melody in _split_melodies(score, rows, q_start, q_end, int(steps_per_bar), k):
            melodies.append(dataclasses.replace(
                melody, start_seconds=split_start + melody.start_step * seconds_per_step))
    return melodies


# ---------------------------------------------------------------------------------------------------------------
# One piece: one melody per instrument


def _split_melodies(score: midi_io.Score, rows: np.ndarray, q_start: np.ndarray, q_end: np.ndarray,
                    steps_per_bar: int, split_index: int) -> list[Melody]:
    """The melodies of one piece; `rows` are its notes in note-seq's order (sorted by start, stable)."""
    instrument = score.instrument[rows]
    # `list(set(...))` over the instruments in note order, like the original; a set of ints iterates in an order
    # that depends only on the distinct values and the order they were first inserted.
    _, first = np.unique(instrument, return_index=True)
    instruments = list(set(int(i) for i in instrument[np.sort(first)]))
    melodies = []
    for inst in instruments:
        mine = np.flatnonzero(instrument == inst)
        # Melody sorts by (start step, -pitch); Python's sort is stable, so ties keep note-seq's order.
        mine = mine[np.lexsort((-score.pitch[rows[mine]], q_start[mine]))]
        events, start_step = melody_events(
            q_start[mine], q_end[mine], score.pitch[rows[mine]],
            usable=(~score.is_drum[rows[mine]]) & (score.velocity[rows[mine]] > 0), steps_per_bar=steps_per_bar)
        melodies.append(Melody(
            events=events, start_step=start_step, steps_per_bar=steps_per_bar, instrument=inst,
            track=score.instruments[inst].name, program=int(score.instruments[inst].program), split_index=split_index,
            start_seconds=0.0))
    return melodies


def melody_events(q_start: np.ndarray, q_end: np.ndarray, pitch: np.ndarray, usable: np.ndarray | None = None,
                  steps_per_bar: int = 16) -> tuple[np.ndarray, int]:
    """`note_seq.Melody.from_quantized_sequence(ignore_polyphonic_notes=True, gap_bars=inf)` on sorted notes.

    q_start, q_end, pitch: [n_notes] int steps, sorted by (start step, -pitch) with ties in note-seq's order.
    usable: [n_notes] bool, False for notes the melody skips (drums, velocity 0); all True if None. The first
        note of the list (usable or not) fixes the start bar, as in magenta.
    Returns (events int16 [n_steps], start_step): the first kept note of each onset step (the highest) sounds
    until its end or the next kept onset, whichever comes first; the melody starts at the bar holding the first
    note and ends at the end of the last kept note (its note off is not stored). Empty events and start 0 when no
    note is usable.
    """
    if not len(q_start):
        return np.zeros(0, np.int16), 0
    melody_start = int(q_start[0] - q_start[0] % steps_per_bar)
    if usable is not None:
        q_start, q_end, pitch = q_start[usable], q_end[usable], pitch[usable]
        if not len(q_start):
            return np.zeros(0, np.int16), 0
    kept = np.ones(len(q_start), bool)
    kept[1:] = q_start[1:] != q_start[:-1]
    starts = q_start[kept] - melody_start
    ends = q_end[kept] - melody_start
    events = np.full(int(ends[-1]), NO_EVENT, np.int16)
    silent_after = ends[:-1] < starts[1:]
    events[ends[:-1][silent_after]] = NOTE_OFF
    events[starts] = pitch[kept]
    return events, melody_start
