"""Scoring rows (Tables 1–3) and writing them as `tables.json`, `tables.csv` and `tables.md`.

`tables.json`: {setting: {row: {metric: value}}} with settings `unconditional`, `infilling`, rows in `ROWS`
order (absent rows left out; `ddim-K` rows of a DDIM step sweep after `ddim`) and the ten metrics of `METRICS`.
Table 2 is the row's own OA statistics (`symdiff_tf.evaluation.metrics.overlap_statistics`), Table 1 relates
them to the train row's (`metrics.consistency_and_variance`), Table 3 is `metrics.latent_metrics` against the
train row's scaled latents.

A value that cannot be computed is null (None), never NaN, and its row carries the reason (`run.json`
"unscored_rows", the "Rows not fully scored" section of `tables.md`, the terminal table): a row whose windows all
decode to silence has no framewise scores (Tables 1–2; a silent frame next to a silent frame would count as a
perfect overlap), and a relative similarity to a ground-truth value of 0 is undefined (Eq. 10 divides by it).
"""
import csv
import dataclasses
import json
import math
import pathlib

from symdiff_tf.evaluation import metrics
from symdiff_tf.evaluation.decode import window_seconds
from symdiff_tf.evaluation.generate import INFILLING, SETTINGS, infill_gap, ordered_rows
from symdiff_tf.melody.render import CHUNK_SECONDS

TABLE1 = ("pitch_consistency", "pitch_variance", "duration_consistency", "duration_variance")
TABLE2 = ("pitch_oa_mean", "pitch_oa_var", "duration_oa_mean", "duration_oa_var")
TABLE3 = ("fd", "mmd")
METRICS = TABLE1 + TABLE2 + TABLE3
FRAME_CHOICES = ("all", "gap")


@dataclasses.dataclass(frozen=True)
class ScoringOptions:
    """How rows are scored.

    formula: OA formula, "exact" (default, correct) or "original" (the released code's; equal variances give
        OA ≈ 1, which the paper's numbers seem to carry: docs/metrics.md).
    empty_frames: "zero" (the original's mean 0 / variance 0) or "skip".
    infill_frames: "all" (every frame of the 64-bar piece, default) or "gap" (only the frames that touch the
        infilled bars, for infilling; the paper does not say which it used).
    flatten: latent flattening for FD/MMD, "chunk" (default) or "sequence" (`metrics.latent`).
    """

    formula: str = "exact"
    empty_frames: str = "zero"
    infill_frames: str = "all"
    flatten: str = "chunk"

    def __post_init__(self):
        if self.infill_frames not in FRAME_CHOICES:
            raise ValueError(f"infill_frames={self.infill_frames!r}: expected one of {FRAME_CHOICES}")


def scored_frames(setting: str, options: ScoringOptions) -> str:
    """The frames `setting` is scored on: "gap" for infilling with `infill_frames="gap"`, else "all" (the whole
    piece, the same view in every setting)."""
    return options.infill_frames if setting == INFILLING else "all"


def framewise_view(pieces, num_chunks: int, setting: str, options: ScoringOptions):
    """The note arrays and `FrameSpec` the framewise metrics see for `setting`.

    Whole pieces (num_chunks · 4 s) normally. For infilling with `infill_frames="gap"`: the notes with onsets in
    [gap start − hop, gap end + hop), shifted to start at 0, so that the frames are exactly those touching the
    gap (17 frames, 16 pairs, for the paper's gap of chunks 8..23).
    """
    spec = metrics.FrameSpec(total_seconds=window_seconds(num_chunks))
    if scored_frames(setting, options) == "all":
        return list(pieces), spec
    first, last = infill_gap(num_chunks)
    start = first * CHUNK_SECONDS - spec.hop_seconds
    stop = last * CHUNK_SECONDS + spec.hop_seconds
    cropped = []
    for notes in pieces:
        inside = notes[(notes[:, 1] >= start) & (notes[:, 1] < stop)].copy()
        inside[:, 1:] -= start
        cropped.append(inside)
    return cropped, dataclasses.replace(spec, total_seconds=stop - start)


def framewise_options(spec, options: ScoringOptions) -> dict:
    return dict(spec=spec, formula=options.formula, empty_frames=options.empty_frames)


def silent_reason(pieces) -> str | None:
    """Why a row gets no framewise scores: none of its note arrays (in the scored frames) holds a note. None when
    one does."""
    pieces = list(pieces)
    if any(len(notes) for notes in pieces):
        return None
    return f"all {len(pieces)} windows decode to silence (no notes in the scored frames): no framewise scores"


def score_row(pieces, scaled, ground_truth, reference_scaled, num_chunks: int, setting: str,
              options: ScoringOptions) -> tuple[dict, str | None]:
    """The ten metrics of one row, and why some of them are None (None when all ten are numbers).

    Args:
        pieces: note arrays of the row's windows; scaled: its latents `[N, 32, k]`.
        ground_truth: `OverlapStatistics` of the train row under the same view (`ground_truth_statistics`), or
            None when the train row is silent.
        reference_scaled: the train row's scaled latents.
    Returns:
        ({metric: float or None} in `METRICS` order, reason or None): a silent row has no Table 1–2 scores; a
        Table 1 score whose ground-truth value is 0 (Eq. 10 divides by it) or absent is None.
    """
    view, spec = framewise_view(pieces, num_chunks, setting, options)
    row = dict(metrics.latent_metrics(reference_scaled, scaled, per=options.flatten))
    reason = silent_reason(view)
    if reason is None:
        stats = metrics.overlap_statistics(view, **framewise_options(spec, options))
        row.update({name: getattr(stats, name) for name in TABLE2})
        if ground_truth is None:
            reason = "the train row is silent, so Table 1 has no ground truth"
        else:
            row.update(metrics.consistency_and_variance(stats, ground_truth))
            undefined = [name for name in TABLE1 if math.isnan(row[name])]
            if undefined:
                reason = f"{', '.join(undefined)}: the train row's value is 0 (Eq. 10 divides by it)"
    values = {name: row.get(name) for name in METRICS}
    return {name: None if value is None or math.isnan(value) else float(value) for name, value in values.items()
            }, reason


def table1_errors(pieces, ground_truth, num_chunks: int, setting: str, options: ScoringOptions,
                  seed: int) -> dict | None:
    """Bootstrap standard errors of one row's Table 1 numbers under `setting`'s view
    (`metrics.table1_standard_errors`, resampled with `seed`); None when the row or the train row is silent."""
    view, spec = framewise_view(pieces, num_chunks, setting, options)
    if ground_truth is None or silent_reason(view) is not None:
        return None
    errors = metrics.table1_standard_errors(view, ground_truth, seed=seed, **framewise_options(spec, options))
    return {name: None if math.isnan(value) else value for name, value in errors.items()}


def ground_truth_statistics(train_pieces, num_chunks: int, setting: str, options: ScoringOptions):
    """OA statistics of the train row under `setting`'s view (the ground truth of Table 1); None when the train
    row is silent there."""
    view, spec = framewise_view(train_pieces, num_chunks, setting, options)
    if silent_reason(view) is not None:
        return None
    return metrics.overlap_statistics(view, **framewise_options(spec, options))


# ----- writing ------------------------------------------------------------------------------------------------
_TABLE_TITLES = (
    ("Table 1: framewise self-similarity relative to the train row (consistency C, variance Var)", TABLE1,
     ("pitch C", "pitch Var", "duration C", "duration Var")),
    ("Table 2: overlapping area, mean and variance over all adjacent frame pairs", TABLE2,
     ("pitch μ_OA", "pitch σ²_OA", "duration μ_OA", "duration σ²_OA")),
    ("Table 3: latent-space distances to the train row (scaled latents)", TABLE3, ("FD", "MMD")),
)


MISSING = "–"  # a value that could not be computed (its reason is listed below the table)


def _number(value: float | None) -> str:
    if value is None or math.isnan(value):
        return MISSING
    return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def write_tables(out_dir, tables: dict, absent: dict, meta: dict, note_stats: dict | None = None,
                 unscored: dict | None = None) -> dict:
    """Writes `tables.json`, `tables.csv`, `tables.md` (and `note_statistics.json`) to `out_dir`.

    Args:
        tables: {setting: {row: {metric: value or None}}}.
        absent: {setting: {row: reason}} for the rows left out.
        meta: settings of the run, written to `run.json` and summarised in the markdown.
        note_stats: {setting: {row: {statistic: value or None}}}, beyond the paper.
        unscored: {setting: {row: reason}} for the rows with None values (`score_row`).
    Returns the paths written, by kind.
    """
    unscored = unscored or {}
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "tables.json", "csv": out_dir / "tables.csv", "markdown": out_dir / "tables.md",
             "run": out_dir / "run.json"}
    paths["json"].write_text(json.dumps(tables, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    paths["run"].write_text(json.dumps({**meta, "absent_rows": absent, "unscored_rows": unscored}, indent=1) + "\n",
                            encoding="utf-8")
    with paths["csv"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["setting", "row", *METRICS])
        for setting, rows in tables.items():
            for row, values in rows.items():
                writer.writerow([setting, row, *("" if values[m] is None else repr(float(values[m]))
                                                 for m in METRICS)])
    if note_stats is not None:
        paths["note_statistics"] = out_dir / "note_statistics.json"
        paths["note_statistics"].write_text(json.dumps(note_stats, indent=1) + "\n", encoding="utf-8")
    paths["markdown"].write_text(markdown(tables, absent, meta, note_stats, unscored), encoding="utf-8")
    return paths


def _table_rows(tables: dict, names) -> list[tuple[str, list[str]]]:
    """(row, cells) of one table: for each row present in some setting, the values of `names` in every setting
    (`MISSING` where the setting lacks the row or a value)."""
    rows = []
    for row in ordered_rows({name for setting in SETTINGS for name in tables.get(setting, {})}):
        cells = []
        for setting in SETTINGS:
            values = tables.get(setting, {}).get(row)
            cells += [_number(values[n]) if values else MISSING for n in names]
        rows.append((row, cells))
    return rows


def _reasons(by_setting: dict) -> list[str]:
    """"setting / row: reason" lines of {setting: {row: reason}}, in `SETTINGS` order."""
    return [f"{setting} / {row}: {why}" for setting in SETTINGS for row, why in by_setting.get(setting, {}).items()]


def terminal_table(tables: dict, absent: dict, unscored: dict | None = None) -> str:
    """Table 1 (the paper's main table) as aligned plain text for the terminal, with the reasons for rows left
    out or not fully scored."""
    title, names, headers = _TABLE_TITLES[0]
    body = _table_rows(tables, names)
    width = max(len("row"), *(len(row) for row, _ in body))
    cell = max(len(h) for h in headers)
    group = len(headers) * (cell + 2) - 2
    lines = [title,
             " " * (width + 2) + "  ".join(f"{s:<{group}}" for s in SETTINGS).rstrip(),
             f"{'row':<{width}}  " + "  ".join(f"{h:>{cell}}" for _ in SETTINGS for h in headers)]
    lines += [f"{row:<{width}}  " + "  ".join(f"{c:>{cell}}" for c in cells) for row, cells in body]
    notes = _reasons(absent) + _reasons(unscored or {})
    lines += [f"{MISSING} {note}" for note in notes]
    return "\n".join(lines)


def markdown(tables: dict, absent: dict, meta: dict, note_stats: dict | None = None,
             unscored: dict | None = None) -> str:
    lines = ["# Evaluation (paper Tables 1–3)", ""]
    lines += [f"- {key}: {value}" for key, value in meta.items() if not isinstance(value, (dict, list))]
    lines.append("")
    for title, names, headers in _TABLE_TITLES:
        lines += [f"## {title}", ""]
        lines.append("| row | " + " | ".join(f"{s} {h}" for s in SETTINGS for h in headers) + " |")
        lines.append("|---" * (1 + len(SETTINGS) * len(names)) + "|")
        lines += [f"| {row} | " + " | ".join(cells) + " |" for row, cells in _table_rows(tables, names)]
        lines.append("")
    for heading, by_setting in (("Rows left out", absent), ("Rows not fully scored", unscored or {})):
        reasons = _reasons(by_setting)
        if reasons:
            lines += [f"## {heading}", ""]
            lines += [f"- {reason}" for reason in reasons]
            lines.append("")
    if note_stats:
        lines += ["## Note statistics (beyond the paper; means over the row's pieces)", ""]
        names = sorted({n for rows in note_stats.values() for stats in rows.values() for n in stats})
        lines.append("| setting | row | " + " | ".join(names) + " |")
        lines.append("|---" * (2 + len(names)) + "|")
        for setting, rows in note_stats.items():
            for row, stats in rows.items():
                lines.append(f"| {setting} | {row} | " + " | ".join(_number(stats[n]) for n in names) + " |")
        lines.append("")
    return "\n".join(lines)


def mean_note_statistics(pieces, num_chunks: int) -> dict:
    """`metrics.mean_note_statistics` over a row's note arrays, as plain floats; None where a statistic is
    undefined for every piece (the pitch-class entropy of a silent row)."""
    stats = metrics.mean_note_statistics(pieces, total_seconds=window_seconds(num_chunks))
    return {name: None if math.isnan(value) else float(value) for name, value in stats.items()}

