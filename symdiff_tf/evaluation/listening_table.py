"""What a listener hears, for every row of `symdiff evaluate` (`metrics.listening`, docs/metrics.md): in-key share,
register distance and density of the generated bars against their context, key coverage and stability over the
window, the longest exact repetition, and for infilling the repetition-aware score against the test window's own
bars. Written as `listening.json` and `listening.md` beside the tables; the `train` and `test` rows are the data's
own values to read the others against."""
import json
import math
import pathlib

from symdiff_tf.evaluation.metrics.listening import listening_rows

MEASURES = ("in_key_share", "register_distance", "density_ratio", "key_coverage", "halves_share_key",
            "longest_repetition", "repetition_f1")


def listening_table(pieces: dict, setting: str, num_chunks: int, gap_chunks: tuple) -> dict:
    """{row: `listening_rows` of its pieces} for one setting. pieces: {row: [note array `[n, 3]` per window]}
    (the rows' decoded notes, chunk i at 4·i s); infilling rows are scored against the `test` row's windows (their
    templates); gap_chunks: the (first, stop) chunks of the generated gap."""
    total_bars = 2 * num_chunks
    gap = (2 * gap_chunks[0], 2 * gap_chunks[1])
    songs = pieces["test"] if setting == "infilling" else None
    return {name: listening_rows(row_pieces, songs if songs is not None and name not in ("train", "test") else None,
                                 total_bars, gap)
            for name, row_pieces in pieces.items()}


def _cell(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def write_listening(out_dir, tables: dict) -> dict:
    """Writes `listening.json` ({setting: {row: measures}}, NaN as null) and `listening.md`; returns their paths."""
    out_dir = pathlib.Path(out_dir)
    clean = {setting: {row: {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}
                       for row, values in rows.items()} for setting, rows in tables.items()}
    paths = {"listening_json": out_dir / "listening.json", "listening_markdown": out_dir / "listening.md"}
    paths["listening_json"].write_text(json.dumps(clean, indent=1) + "\n", encoding="utf-8")
    lines = ["# What a listener hears (docs/metrics.md)", ""]
    for setting, rows in clean.items():
        shown = [m for m in MEASURES if any(values.get(m) is not None for values in rows.values())]
        lines += [f"## {setting}", "", "| row | " + " | ".join(shown) + " |", "|---|" + "---|" * len(shown)]
        lines += [f"| {row} | " + " | ".join(_cell(values.get(m)) for m in shown) + " |" for row, values in rows.items()]
        lines.append("")
    paths["listening_markdown"].write_text("\n".join(lines), encoding="utf-8")
    return paths
