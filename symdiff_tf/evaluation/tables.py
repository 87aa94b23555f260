"""Scoring rows (Tables 1–3) and writing them as `tables.json`, `tables.csv` and `tables.md`.

`tables.json`: {setting: {row: {metric: value}}} with settings `unconditional`, `infilling`, rows in `ROWS`
order (absent rows left out) and the ten metrics of `METRICS`. Table 1 and 2 come from
`symdiff_tf.evaluation.metrics.framewise_metrics` against the train row's OA statistics, Table 3 from
`symdiff_tf.evaluation.metrics.latent_metrics` against the train row's scaled latents.
"""
import csv
import dataclasses
import json
import math
import pathlib

from symdiff_tf.evaluation import metrics
from symdiff_tf.evaluation.decode import window_seconds
from symdiff_tf.evaluation.generate import INFILLING, ROWS, SETTINGS, infill_gap
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


def score_row(pieces, scaled, ground_truth, reference_scaled, num_chunks: int, setting: str,
              options: ScoringOptions) -> dict:
    """The ten metrics of one row.

    Args:
        pieces: note arrays of the row's windows; scaled: its latents `[N, 32, k]`.
        ground_truth: `OverlapStatistics` of the train row under the same view (`ground_truth_statistics`).
        reference_scaled: the train row's scaled latents.
    """
    view, spec = framewise_view(pieces, num_chunks, setting, options)
    row = metrics.framewise_metrics(view, ground_truth, **framewise_options(spec, options))
    row.update(metrics.latent_metrics(reference_scaled, scaled, per=options.flatten))
    return {name: float(row[name]) for name in METRICS}


def ground_truth_statistics(train_pieces, num_chunks: int, setting: str, options: ScoringOptions):
    """OA statistics of the train row under `setting`'s view (the ground truth of Table 1)."""
    view, spec = framewise_view(train_pieces, num_chunks, setting, options)
    return metrics.overlap_statistics(view, **framewise_options(spec, options))


# ----- writing ------------------------------------------------------------------------------------------------
_TABLE_TITLES = (
    ("Table 1: framewise self-similarity relative to the train row (consistency C, variance Var)", TABLE1,
     ("pitch C", "pitch Var", "duration C", "duration Var")),
    ("Table 2: overlapping area, mean and variance over all adjacent frame pairs", TABLE2,
     ("pitch μ_OA", "pitch σ²_OA", "duration μ_OA", "duration σ²_OA")),
    ("Table 3: latent-space distances to the train row (scaled latents)", TABLE3, ("FD", "MMD")),
)


def _number(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def write_tables(out_dir, tables: dict, absent: dict, meta: dict, note_stats: dict | None = None) -> dict:
    """Writes `tables.json`, `tables.csv`, `tables.md` (and `note_statistics.json`) to `out_dir`.

    Args:
        tables: {setting: {row: {metric: value}}}.
        absent: {setting: {row: reason}} for the rows left out.
        meta: settings of the run, written to `run.json` and summarised in the markdown.
        note_stats: {setting: {row: {statistic: value}}}, beyond the paper.
    Returns the paths written, by kind.
    """
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "tables.json", "csv": out_dir / "tables.csv", "markdown": out_dir / "tables.md",
             "run": out_dir / "run.json"}
    paths["json"].write_text(json.dumps(tables, indent=1, allow_nan=True) + "\n", encoding="utf-8")
    paths["run"].write_text(json.dumps({**meta, "absent_rows": absent}, indent=1) + "\n", encoding="utf-8")
    with paths["csv"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["setting", "row", *METRICS])
        for setting, rows in tables.items():
            for row, values in rows.items():
                writer.writerow([setting, row, *(repr(float(values[m])) for m in METRICS)])
    if note_stats is not None:
        paths["note_statistics"] = out_dir / "note_statistics.json"
        paths["note_statistics"].write_text(json.dumps(note_stats, indent=1) + "\n", encoding="utf-8")
    paths["markdown"].write_text(markdown(tables, absent, meta, note_stats), encoding="utf-8")
    return paths


def markdown(tables: dict, absent: dict, meta: dict, note_stats: dict | None = None) -> str:
    lines = ["# Evaluation (paper Tables 1–3)", ""]
    lines += [f"- {key}: {value}" for key, value in meta.items() if not isinstance(value, (dict, list))]
    lines.append("")
    for title, names, headers in _TABLE_TITLES:
        lines += [f"## {title}", ""]
        lines.append("| row | " + " | ".join(f"{s} {h}" for s in SETTINGS for h in headers) + " |")
        lines.append("|---" * (1 + len(SETTINGS) * len(names)) + "|")
        for row in ROWS:
            if not any(row in tables.get(s, {}) for s in SETTINGS):
                continue
            cells = []
            for setting in SETTINGS:
                values = tables.get(setting, {}).get(row)
                cells += [_number(values[n]) if values else "–" for n in names]
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
        lines.append("")
    reasons = [(s, r, why) for s in SETTINGS for r, why in absent.get(s, {}).items()]
    if reasons:
        lines += ["## Rows left out", ""]
        lines += [f"- {setting} / {row}: {why}" for setting, row, why in reasons]
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
    """`metrics.mean_note_statistics` over a row's note arrays, as plain floats."""
    stats = metrics.mean_note_statistics(pieces, total_seconds=window_seconds(num_chunks))
    return {name: float(value) for name, value in stats.items()}

