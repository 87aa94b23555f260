"""A song's own bars and the model's 4-beat bars: time signatures, the bar mapping and the melody on that grid.

Song bars are what a MIDI editor shows: numbered from 1 at tick 0, each as long as the time signature in force
(`numerator · 4 / denominator` quarter notes). A time signature takes effect at its tick when that is a bar line
of the running meter, else at the next bar line (a change written mid-bar waits for the bar to end); several at
one tick: the last one counts; none at tick 0: 4/4 until the first.

The model's bars are 4 quarter notes (16 sixteenth-note steps). Within each stretch of one meter, counted from
its first bar:
- a bar of 16 steps (4/4, 2/2, 8/8) is one model bar;
- shorter bars whose length divides 16 steps (2/4, 1/4, 4/8, 1/2, ...) are grouped: two 2/4 bars, four 1/4 bars
  make one model bar. A stretch that ends on an incomplete group (a lone 2/4 bar, three 1/4 bars) gives a model
  bar with only its first steps in the song; its remaining steps are padding: silence the song does not have
  (the model sees it, nothing is written there). The grouping starts afresh after it: a 1/4 bar shifts the grid;
- longer bars that are whole multiples of 16 steps (8/4, 4/2) are several model bars each.
Other meters (3/4, 6/8, 5/4, 7/8, ...) cannot be mapped; `SongGrid.from_score` refuses them naming the bars.

Past the song's end the last meter carries on, so bars after the end (a continuation) have numbers and ticks too.

Units: ticks (MIDI ticks of the file, float where a step falls between ticks), steps (16th notes), bars. Model bars
are 0-based indices on the model's grid; song bars are 1-based numbers as the editor shows them.
"""
from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

from symdiff_tf.melody import midi_io
from symdiff_tf.melody.chunks import MAX_PITCH, MIN_PITCH, STEPS_PER_BAR, melody_notes
from symdiff_tf.melody.extract import STEPS_PER_QUARTER, TrackNotFoundError, melody_events
from symdiff_tf.melody.render import notes_to_tokens, tokens_to_notes


@dataclasses.dataclass(frozen=True)
class Meter:
    """One stretch of a single time signature: from song bar `first_bar` (1-based), which starts at `tick`, to the
    next stretch. bar_steps: 16th-note steps per song bar (numerator · 16 / denominator, may be fractional)."""

    first_bar: int
    tick: float
    numerator: int
    denominator: int

    @property
    def bar_steps(self) -> float:
        return self.numerator * STEPS_PER_BAR / self.denominator

    @property
    def name(self) -> str:
        return f"{self.numerator}/{self.denominator}"

    def mappable(self) -> bool:
        """True when whole song bars fill whole model bars: bar_steps divides 16 or is a multiple of 16."""
        steps = self.bar_steps
        return steps == int(steps) and (STEPS_PER_BAR % int(steps) == 0 or int(steps) % STEPS_PER_BAR == 0)


@dataclasses.dataclass(frozen=True)
class ModelBars:
    """The first n model bars of a song's grid, arrays `[n]`.

    start_tick: float64, where the model bar starts; song_steps: int64, how many of its 16 steps are in the song
    (16, or fewer for a bar padded at the end of an incomplete group); first_song_bar, last_song_bar: int64, the
    song bars it holds (equal when a song bar spans several model bars).
    """

    start_tick: np.ndarray
    song_steps: np.ndarray
    first_song_bar: np.ndarray
    last_song_bar: np.ndarray

    def __len__(self):
        return len(self.start_tick)


@dataclasses.dataclass(frozen=True)
class SongGrid:
    """A song's bars and their mapping onto the model's 4-beat bars (see the module docstring).

    path: the MIDI file; ticks_per_quarter: its resolution; meters: the stretches of one time signature, in
    order (the first at bar 1, tick 0); song_bars: how many bars the song fills (the bar holding its last note
    end, over all tracks); end_tick: that last note end.
    """

    path: str
    ticks_per_quarter: int
    meters: tuple
    song_bars: int
    end_tick: int

    @classmethod
    def from_score(cls, score: midi_io.Score) -> "SongGrid":
        """The grid of a read MIDI file. ValueError naming the file, the bars and the meter when a bar of the song
        cannot be mapped onto 4-beat bars (3/4, 6/8, ...)."""
        meters = _meters(score)
        end_tick = int(score.end_tick.max()) if score.n_notes else 0
        grid = cls(score.path, score.ticks_per_quarter, tuple(meters), 1, end_tick)
        song_bars = max(grid.bar_at_tick(max(end_tick - 1, 0)), 1)
        grid = dataclasses.replace(grid, song_bars=song_bars)
        refused = [f"bars {m.first_bar}-{grid._last_bar(i)} are in {m.name}" for i, m in enumerate(meters)
                   if m.first_bar <= song_bars and not m.mappable()]
        if refused:
            raise ValueError(f"{score.path}: {'; '.join(refused)}, which the model's 4-beat bars cannot hold "
                             "(meters of 1, 2, 4 or 8 quarter notes map: 1/4, 2/4, 4/4, 2/2, 4/8, ...)")
        return grid

    def _last_bar(self, meter_index: int) -> int:
        """Last song bar of stretch `meter_index`, at most the song's last bar."""
        following = self.meters[meter_index + 1].first_bar - 1 if meter_index + 1 < len(self.meters) else math.inf
        return int(min(following, self.song_bars))

    def _meter_of_bar(self, bar: int) -> Meter:
        return [m for m in self.meters if m.first_bar <= bar][-1]

    def bar_tick(self, bar: int) -> float:
        """Tick where song bar `bar` (1-based, may lie past the end) starts."""
        meter = self._meter_of_bar(bar)
        return meter.tick + (bar - meter.first_bar) * self._bar_ticks(meter)

    def _bar_ticks(self, meter: Meter) -> float:
        return meter.bar_steps * self.ticks_per_quarter / STEPS_PER_QUARTER

    def bar_at_tick(self, tick: float) -> int:
        """The song bar (1-based) holding `tick`."""
        meter = [m for m in self.meters if m.tick <= tick][-1]
        return meter.first_bar + int((tick - meter.tick) // self._bar_ticks(meter))

    @property
    def ticks_per_step(self) -> float:
        return self.ticks_per_quarter / STEPS_PER_QUARTER

    def model_bars(self, count: int) -> ModelBars:
        """The first `count` model bars (continuing past the song's end with its last meter)."""
        starts, song_steps, firsts, lasts = [], [], [], []
        for i, meter in enumerate(self.meters):
            steps = meter.bar_steps
            end_bar = self.meters[i + 1].first_bar if i + 1 < len(self.meters) else math.inf
            bar = meter.first_bar
            while bar < end_bar and len(starts) < count:
                if steps >= STEPS_PER_BAR:
                    parts = int(steps) // STEPS_PER_BAR
                    for part in range(min(parts, count - len(starts))):
                        starts.append(self.bar_tick(bar) + part * STEPS_PER_BAR * self.ticks_per_step)
                        song_steps.append(STEPS_PER_BAR)
                        firsts.append(bar)
                        lasts.append(bar)
                    bar += 1
                    continue
                group = min(STEPS_PER_BAR // int(steps), end_bar - bar)
                starts.append(self.bar_tick(bar))
                song_steps.append(int(group * steps))
                firsts.append(bar)
                lasts.append(bar + group - 1)
                bar += group
            if len(starts) >= count:
                break
        return ModelBars(np.array(starts, np.float64), np.array(song_steps, np.int64),
                         np.array(firsts, np.int64), np.array(lasts, np.int64))

    @property
    def song_model_bars(self) -> int:
        """How many model bars hold the song's bars 1..song_bars."""
        return self.model_bar_of_song_bar(self.song_bars) + 1

    def model_bar_of_song_bar(self, bar: int) -> int:
        """The model bar (0-based) holding the start of song bar `bar` (1-based)."""
        if bar < 1:
            raise ValueError(f"bar {bar}: song bars count from 1")
        count = 64
        while True:
            bars = self.model_bars(count)
            holding = np.flatnonzero((bars.first_song_bar <= bar) & (bars.last_song_bar >= bar))
            if len(holding):
                return int(holding[0])
            count *= 2

    def step_ticks(self, model_bars: ModelBars, global_steps) -> np.ndarray:
        """Ticks (float64) of steps counted from the start of model bar 0 (16 per model bar), on `model_bars`
        (which must hold the steps' bars). A step in a bar's padding is placed at the end of the bar's song part."""
        global_steps = np.asarray(global_steps, np.int64)
        bar, step = np.divmod(global_steps, STEPS_PER_BAR)
        step = np.minimum(step, model_bars.song_steps[bar])
        return model_bars.start_tick[bar] + step * self.ticks_per_step

    def mapping_lines(self, last_song_bar: int | None = None) -> list[str]:
        """How song bars map to model bars, one line per stretch of one meter up to `last_song_bar` (default the
        song's last bar), e.g. "song bars 1-83 (2/4) -> model bars 1-42, 2 song bars each; model bar 42 holds bar
        83 alone (+2 beats of padding)". Model bars are numbered from 1 here, as song bars."""
        last_song_bar = last_song_bar or self.song_bars
        count = self.model_bar_of_song_bar(last_song_bar) + 1
        bars = self.model_bars(count)
        lines = []
        for meter in self.meters:
            if meter.first_bar > last_song_bar:
                break
            rows = np.flatnonzero(bars.first_song_bar >= meter.first_bar)
            rows = rows[bars.first_song_bar[rows] <= last_song_bar]
            mine = [r for r in rows if self._meter_of_bar(int(bars.first_song_bar[r])) is meter]
            first, last = mine[0], mine[-1]
            song_last = min(int(bars.last_song_bar[last]), last_song_bar)
            steps = int(meter.bar_steps)
            if steps == STEPS_PER_BAR:
                how = "one song bar each"
            elif steps > STEPS_PER_BAR:
                how = f"{steps // STEPS_PER_BAR} model bars per song bar"
            else:
                how = f"{STEPS_PER_BAR // steps} song bars each"
            line = (f"song bars {meter.first_bar}-{song_last} ({meter.name}) -> model "
                    f"{f'bars {first + 1}-{last + 1}' if last > first else f'bar {first + 1}'}, {how}")
            for r in mine:
                if bars.song_steps[r] < STEPS_PER_BAR:
                    held = (f"bar {bars.first_song_bar[r]} alone" if bars.first_song_bar[r] == bars.last_song_bar[r]
                            else f"bars {bars.first_song_bar[r]}-{bars.last_song_bar[r]}")
                    padding = (STEPS_PER_BAR - bars.song_steps[r]) / STEPS_PER_QUARTER
                    line += (f"; model bar {r + 1} holds {held} (+{padding:g} beat{'' if padding == 1 else 's'} "
                             "of padding)")
            lines.append(line)
        return lines


def _meters(score: midi_io.Score) -> list[Meter]:
    """The song's stretches of one time signature (see the module docstring for the rules)."""
    events = sorted(zip(score.ts_ticks.tolist(), score.ts_numerators.tolist(), score.ts_denominators.tolist()),
                    key=lambda event: event[0])
    meters = [Meter(1, 0.0, 4, 4)]
    ticks_per_step = score.ticks_per_quarter / STEPS_PER_QUARTER
    for tick, numerator, denominator in events:
        current = meters[-1]
        bar_ticks = current.bar_steps * ticks_per_step
        bars_before = max(math.ceil((tick - current.tick) / bar_ticks - 1e-9), 0)
        if bars_before == 0:
            meters[-1] = Meter(current.first_bar, current.tick, numerator, denominator)
            if len(meters) > 1 and (meters[-2].numerator, meters[-2].denominator) == (numerator, denominator):
                meters.pop()
        elif (current.numerator, current.denominator) != (numerator, denominator):
            meters.append(Meter(current.first_bar + bars_before, current.tick + bars_before * bar_ticks, numerator,
                                denominator))
    return meters


def track_rows(score: midi_io.Score, track: str | None) -> np.ndarray:
    """bool `[n_notes]`: the notes of the melody's track. `track` None: the one track that has notes (a file
    with several raises ValueError asking for --track). TrackNotFoundError naming the file for a missing name."""
    names = [info.name for info in score.instruments]
    if track is None:
        named = sorted(set(names[i] for i in np.unique(score.instrument)))
        if len(named) != 1:
            raise ValueError(f"{score.path}: which track holds the melody? name it with --track (tracks: {named})")
        track = named[0]
    keep = np.array([name == track for name in names], bool)
    if not keep.any():
        raise TrackNotFoundError(f"{score.path}: no track named {track!r} (tracks: {sorted(set(names))})")
    return keep[score.instrument] & ~score.is_drum


@dataclasses.dataclass(frozen=True)
class SongMelody:
    """A song's melody on the model's grid, from model bar 0 to the end of the song.

    steps: int32 `[n_bars, 16]`, classes per 16th step (0 no event, 1 note off, 2 + pitch - 21), rendered
    continuously (a note carries across bar lines until its note off); padding steps are silent.
    velocity: the melody's median velocity (1..127); track: the melody's track name; grid: the song's grid;
    bars: its `ModelBars` for the n_bars model bars.
    """

    steps: np.ndarray
    velocity: int
    track: str
    grid: SongGrid
    bars: ModelBars


def song_melody(path, track: str | None = None) -> SongMelody:
    """The melody of the MIDI file at `path` (track `track`) on the model's grid, bar by bar, for the whole song.

    Notes are placed by their ticks at the nearest 16th step of the song's bars; the monophonic rules are
    `extract.melody_events`'s (the highest note wins a shared onset, an onset cuts the sounding note); pitches
    outside 21..108 are dropped; a note ends where a bar's padding begins. Rests of any length are silent bars.
    Raises ValueError naming the file for a file that cannot be read, an unmappable meter or a missing track.
    """
    score = midi_io.read_midi(os.fspath(path))
    grid = SongGrid.from_score(score)
    rows = track_rows(score, track)
    n_bars = grid.song_model_bars
    bars = grid.model_bars(n_bars)
    track_name = score.instruments[int(score.instrument[rows][0])].name if rows.any() else str(track)
    rows &= (score.pitch >= MIN_PITCH) & (score.pitch <= MAX_PITCH)
    starts = quantize_ticks(grid, bars, score.start_tick[rows], at_end=False)
    ends = np.maximum(quantize_ticks(grid, bars, score.end_tick[rows], at_end=True), starts + 1)
    pitches = score.pitch[rows]
    velocity = int(np.median(score.velocity[rows])) if rows.any() else 80
    steps = np.zeros((n_bars, STEPS_PER_BAR), np.int32)
    if len(starts):
        order = np.lexsort((-pitches, starts))
        events, first = melody_events(starts[order], ends[order], pitches[order], steps_per_bar=STEPS_PER_BAR)
        steps = steps_of_notes(*melody_notes(events, first), bars.song_steps)
    return SongMelody(steps, velocity, track_name, grid, bars)


def quantize_ticks(grid: SongGrid, bars: ModelBars, ticks, at_end: bool) -> np.ndarray:
    """Ticks → the nearest step on the model grid, int64 steps from model bar 0 (16 per bar); half a step rounds
    up, as the paper's quantisation. Candidates are the song steps of `bars`; with `at_end` also each bar's end,
    and a padded bar's end (its first padding step) wins over the next bar's first step at the same tick, so a
    note ending there ends before the padding. Ticks past the last candidate go to it."""
    ticks = np.asarray(ticks, np.float64)
    step_in_bar = np.arange(STEPS_PER_BAR + 1)
    bar, step = np.nonzero(step_in_bar[None] < bars.song_steps[:, None] + (1 if at_end else 0))
    candidates = bars.start_tick[bar] + step * grid.ticks_per_step
    positions = bar * STEPS_PER_BAR + step
    order = np.lexsort((positions, candidates))
    candidates, positions = candidates[order], positions[order]
    right = np.clip(np.searchsorted(candidates, ticks, side="left"), 1, len(candidates) - 1)
    nearer_left = (ticks - candidates[right - 1]) < (candidates[right] - ticks)
    return positions[np.where(nearer_left, right - 1, right)].astype(np.int64)


def steps_of_notes(starts, ends, pitches, song_steps) -> np.ndarray:
    """Monophonic notes in steps from model bar 0 → int32 `[n_bars, 16]` (continuous rendering).

    song_steps: int `[n_bars]`, the steps of each model bar that are in the song (`ModelBars.song_steps`; 16
    everywhere for a melody without padding). A note is cut where a bar's padding begins, or at the end of the
    last bar; notes starting in padding are dropped.
    """
    starts, ends, pitches = (np.asarray(a, np.int64) for a in (starts, ends, pitches))
    song_steps = np.asarray(song_steps, np.int64)
    n_bars = len(song_steps)
    padded = song_steps < STEPS_PER_BAR
    padding_starts = np.flatnonzero(padded) * STEPS_PER_BAR + song_steps[padded]
    in_song = (starts < n_bars * STEPS_PER_BAR)
    in_song[in_song] = (starts[in_song] % STEPS_PER_BAR) < song_steps[starts[in_song] // STEPS_PER_BAR]
    starts, ends, pitches = starts[in_song], ends[in_song], pitches[in_song]
    limit = np.append(padding_starts, n_bars * STEPS_PER_BAR)[np.searchsorted(padding_starts, starts, side="right")]
    ends = np.minimum(ends, limit)
    n_chunks = -(-n_bars // 2)
    flat = notes_to_tokens(starts, ends, pitches, n_chunks, continuous=True).reshape(-1)
    return flat[:n_bars * STEPS_PER_BAR].reshape(n_bars, STEPS_PER_BAR).astype(np.int32)


def notes_of_steps(steps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, pitches) int64 of steps `[n_bars, 16]` rendered continuously, in steps from bar 0."""
    flat = np.asarray(steps).reshape(-1)
    padded = np.zeros(-(-len(flat) // 32) * 32, np.int64)
    padded[:len(flat)] = flat
    starts, ends, pitches = tokens_to_notes(padded.reshape(-1, 32), continuous=True)
    return starts, np.minimum(ends, len(flat)), pitches


def span_notes(grid: SongGrid, steps, first: int, last: int):
    """The notes that melody `steps` `[n_bars, 16]` (continuous, from model bar 0) starts in model bars
    first..last, on the song's ticks: (starts, ends, pitches) int64 `[n_notes]`, ends cut at the span's end and
    at padding; and the span's (first tick, end tick), the end being where the last bar's song part ends."""
    steps = np.asarray(steps)
    bars = grid.model_bars(max(len(steps), last + 1) + 1)
    starts, ends, pitches = notes_of_steps(steps)
    span_end = (last + 1) * STEPS_PER_BAR
    inside = (starts >= first * STEPS_PER_BAR) & (starts < span_end)
    starts, ends, pitches = starts[inside], np.minimum(ends[inside], span_end), pitches[inside]
    in_song = (starts % STEPS_PER_BAR) < bars.song_steps[starts // STEPS_PER_BAR]
    starts, ends, pitches = starts[in_song], ends[in_song], pitches[in_song]
    padding = (np.arange(len(bars)) * STEPS_PER_BAR + bars.song_steps)[starts // STEPS_PER_BAR]
    ends = np.minimum(ends, padding)
    end_tick = bars.start_tick[last] + bars.song_steps[last] * grid.ticks_per_step
    ticks = [np.rint(grid.step_ticks(bars, s)).astype(np.int64) for s in (starts, ends)]
    return ticks[0], ticks[1], pitches, (int(round(bars.start_tick[first])), int(round(end_tick)))
