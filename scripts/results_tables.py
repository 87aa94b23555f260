"""Markdown tables of `docs/results.md` from `symdiff evaluate` output folders, the paper's numbers beside ours.

Usage:
    python scripts/results_tables.py MAIN_EVAL [--sweep SWEEP_EVAL] [--bfloat16 BF16_EVAL]
        [--versus OLD_EVAL --labels NEW OLD]

MAIN_EVAL: a run, ideally with `--oa-formula both` (Tables 1-3 with the exact formula, Tables 1-2 with the
original's from `MAIN_EVAL/oa_original/` when it is there, note statistics, the listening measures). SWEEP_EVAL: a float32 run with `--ddim-sweep` (DDIM steps against
DDPM). BF16_EVAL: the same command as SWEEP_EVAL with `--precision bfloat16` (same seeds, so the same start
noise). OLD_EVAL: the same command on another model (e.g. the previous bundle version): the two side by side on
Table 1, FD and the listening measures, the data's row of each beside them. Prints markdown on stdout.
"""
from __future__ import annotations

import argparse
import json
import pathlib

SETTINGS = ("unconditional", "infilling")
TABLE1 = ("pitch_consistency", "pitch_variance", "duration_consistency", "duration_variance")
TABLE2 = ("pitch_oa_mean", "pitch_oa_var", "duration_oa_mean", "duration_oa_var")
TABLE3 = ("fd", "mmd")
MAIN_ROWS = ("train", "test", "ddpm", "ddim", "mdn", "interpolation", "prior")
# The paper's Tables 1-3 as printed (Mittal et al. 2021; ../shared/docs/original.md §4.6), unconditional then
# infilling; "–" where the paper has no value.
PAPER = {
    "table1": {"test": "1.00 0.96 1.00 0.91 1.00 0.96 1.00 0.91", "ddpm": "0.99 0.90 0.96 0.92 0.97 0.87 0.97 0.80",
               "mdn": "0.93 0.68 0.93 0.76 – – – –", "interpolation": "0.85 0.23 0.91 0.34 0.94 0.78 0.96 0.80",
               "prior": "0.84 0.19 0.90 0.67 0.89 0.19 0.94 0.54"},
    "table2": {"train": "0.82 0.018 0.88 0.012 0.82 0.018 0.88 0.012",
               "test": "0.82 0.018 0.88 0.011 0.82 0.018 0.88 0.011",
               "ddpm": "0.81 0.017 0.85 0.013 0.80 0.021 0.86 0.015", "mdn": "0.76 0.024 0.82 0.015 – – – –",
               "interpolation": "0.94 0.004 0.96 0.004 0.87 0.014 0.91 0.009",
               "prior": "0.69 0.033 0.79 0.016 0.73 0.033 0.82 0.018"},
    "table3": {"test": "1.24 0.12 1.24 0.12", "ddpm": "1.66 0.18 1.53 0.16", "mdn": "1.26 0.12 – –",
               "interpolation": "3.22 0.43 1.97 0.23", "prior": "2.44 0.29 1.17 0.12"},
}
LISTENING = ("in_key_share", "register_distance", "density_ratio", "key_coverage", "halves_share_key",
             "longest_repetition", "repetition_f1")  # docs/metrics.md, "What a listener hears"
VERSUS_ROWS = ("test", "ddpm", "ddim", "mdn")
NOTE_STATS = ("longest_repetition", "note_density", "pitch_class_entropy", "rest_share")  # bars, notes/bar, bits, share


def _cell(value, digits: int) -> str:
    if value is None:
        return "–"
    return f"{0.0 if abs(value) < 0.5 * 10 ** -digits else value:.{digits}f}"  # no "-0.000"


def _values(tables: dict, row: str, metrics) -> list:
    return [tables.get(s, {}).get(row, {}).get(m) if row in tables.get(s, {}) else None
            for s in SETTINGS for m in metrics]


def _header(labels) -> list[str]:
    cells = [f"{'unc.' if s == SETTINGS[0] else 'infill'} {label}" for s in SETTINGS for label in labels]
    return ["| row | " + " | ".join(cells) + " |", "|---" * (len(cells) + 1) + "|"]


def table(tables: dict, metrics, labels, digits: int, paper: dict | None = None, rows=MAIN_ROWS) -> str:
    """A markdown table of `rows` (those present), each followed by the paper's row when `paper` has it."""
    lines = _header(labels)
    for row in rows:
        if not any(row in tables.get(s, {}) for s in SETTINGS):
            continue
        lines.append(f"| {row} | " + " | ".join(_cell(v, digits) for v in _values(tables, row, metrics)) + " |")
        if paper and row in paper:
            lines.append(f"| {row} (paper) | " + " | ".join(paper[row].split()) + " |")
    return "\n".join(lines)


def note_statistics(folder: pathlib.Path) -> str:
    """Note statistics per row and setting, with the change against the test row in percent."""
    stats = json.loads((folder / "note_statistics.json").read_text())
    lines = ["| setting | row | " + " | ".join(NOTE_STATS) + " |", "|---" * (2 + len(NOTE_STATS)) + "|"]
    for setting in SETTINGS:
        test = stats[setting]["test"]
        for row, values in stats[setting].items():
            cells = []
            for name in NOTE_STATS:
                value, reference = values.get(name), test.get(name)
                change = "" if row in ("train", "test") or not reference or value is None else \
                    f" ({100 * (value - reference) / reference:+.0f} %)"
                cells.append(_cell(value, 3 if name == "rest_share" else 2) + change)
            lines.append(f"| {setting} | {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _label(row: str, ddim_steps: int) -> str:
    return f"ddim-{ddim_steps}" if row == "ddim" else row


def _sampler_rows(tables: dict, ddim_steps: int) -> list[str]:
    """`ddpm`, then the DDIM rows by step count (`ddim` has `ddim_steps`)."""
    rows = [r for r in tables[SETTINGS[0]] if r == "ddpm" or r.startswith("ddim")]
    return sorted(rows, key=lambda r: (r != "ddpm", int(_label(r, ddim_steps).split("-")[1]) if r != "ddpm" else 0))


def sweep_table(tables: dict, ddim_steps: int, reference: str = "ddpm") -> str:
    """Table 1 of the DDPM and every DDIM row (`ddim` has `ddim_steps` steps), with the largest distance of each
    row to `reference`'s entries."""
    run_rows = _sampler_rows(tables, ddim_steps)
    lines = _header(("pitch C", "pitch Var", "dur C", "dur Var"))
    lines[0] = lines[0][:-1] + "| max abs diff to ddpm |"
    lines[1] += "---|"
    base = _values(tables, reference, TABLE1)
    for row in run_rows:
        values = _values(tables, row, TABLE1)
        worst = max(abs(a - b) for a, b in zip(values, base) if a is not None and b is not None)
        lines.append(f"| {_label(row, ddim_steps)} | " + " | ".join(_cell(v, 3) for v in values) + f" | {worst:.3f} |")
    return "\n".join(lines)


def precision_table(full: dict, half: dict, ddim_steps: int) -> str:
    """Table 1 of the sampled rows in float32 and bfloat16 (same seeds), with their largest difference."""
    lines = _header(("pitch C", "pitch Var", "dur C", "dur Var"))
    lines[0] = lines[0][:-1] + "| max abs diff |"
    lines[1] += "---|"
    for row in [r for r in _sampler_rows(full, ddim_steps) if r in half[SETTINGS[0]]]:
        a, b = _values(full, row, TABLE1), _values(half, row, TABLE1)
        worst = max(abs(x - y) for x, y in zip(a, b) if x is not None and y is not None)
        lines.append(f"| {_label(row, ddim_steps)} float32 | " + " | ".join(_cell(v, 3) for v in a) + " | |")
        lines.append(f"| {_label(row, ddim_steps)} bfloat16 | " + " | ".join(_cell(v, 3) for v in b)
                     + f" | {worst:.3f} |")
    return "\n".join(lines)


def versus_table(new: pathlib.Path, old: pathlib.Path, labels: tuple[str, str], setting: str) -> str:
    """One setting's Table 1, FD and listening measures of two runs of the same command, row by row (the `test`
    row is the held-out data decoded by each run's VAE)."""
    metrics = TABLE1 + ("fd",) + LISTENING[:-1 if setting == "unconditional" else None]
    columns = ("pitch C", "pitch Var", "dur C", "dur Var", "FD") + metrics[5:]
    lines = ["| row | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    runs = [(label, json.loads((folder / "tables.json").read_text())[setting],
             json.loads((folder / "listening.json").read_text())[setting]) for label, folder in zip(labels, (new, old))]
    for row in VERSUS_ROWS:
        for label, tables, listening in runs:
            if row not in tables:
                continue
            values = [tables[row].get(m) for m in metrics[:5]] + [listening.get(row, {}).get(m) for m in metrics[5:]]
            lines.append(f"| {row} {label} | " + " | ".join(_cell(v, 3) for v in values) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("main", type=pathlib.Path, help="evaluate output of a run with --oa-formula both")
    parser.add_argument("--sweep", type=pathlib.Path, help="evaluate output of a float32 run with --ddim-sweep")
    parser.add_argument("--bfloat16", type=pathlib.Path, help="the sweep's command with --precision bfloat16")
    parser.add_argument("--versus", type=pathlib.Path, help="the main run's command on another model")
    parser.add_argument("--labels", nargs=2, default=("new", "old"), help="names of the main and --versus runs")
    args = parser.parse_args()

    def load(folder):
        return json.loads((folder / "tables.json").read_text())

    exact = load(args.main)
    t1_labels, t2_labels = ("pitch C", "pitch Var", "dur C", "dur Var"), ("pitch μ_OA", "pitch σ²_OA", "dur μ_OA",
                                                                            "dur σ²_OA")
    print("### Table 1 (exact OA)\n\n" + table(exact, TABLE1, t1_labels, 3, PAPER["table1"]) + "\n")
    print("### Table 2 (exact OA)\n\n" + table(exact, TABLE2, t2_labels, 3, PAPER["table2"]) + "\n")
    if (args.main / "oa_original").is_dir():
        original = load(args.main / "oa_original")
        print("### Table 1 (original OA)\n\n" + table(original, TABLE1, t1_labels, 3, PAPER["table1"]) + "\n")
        print("### Table 2 (original OA)\n\n" + table(original, TABLE2, t2_labels, 3, PAPER["table2"]) + "\n")
    print("### Table 3 (paper ×1e-2)\n\n" + table(exact, TABLE3, ("FD", "MMD"), 3, PAPER["table3"]) + "\n")
    print("### Note statistics\n\n" + note_statistics(args.main) + "\n")
    if args.versus:
        for setting in SETTINGS:
            print(f"### {' against '.join(args.labels)}: {setting}\n\n"
                  + versus_table(args.main, args.versus, tuple(args.labels), setting) + "\n")
    if args.sweep:
        ddim_steps = json.loads((args.sweep / "run.json").read_text())["ddim_steps"]
        print("### DDIM steps (Table 1, exact OA)\n\n" + sweep_table(load(args.sweep), ddim_steps) + "\n")
        if args.bfloat16:
            print("### float32 against bfloat16 sampling (Table 1, exact OA)\n\n"
                  + precision_table(load(args.sweep), load(args.bfloat16), ddim_steps) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
