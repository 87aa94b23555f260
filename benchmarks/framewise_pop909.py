"""Framewise metrics on real melodies and on two "baselines" made from them, to see the metric's behaviour.

Real: POP909 MELODY tracks, extracted as the paper (`symdiff_tf.melody`), cut into non-overlapping 64-bar
windows (32 chunks), rendered at 120 qpm. Ground truth = the first half of the windows, "test" = the second
half. Shuffled: chunks drawn at random from all windows (independent chunks, like the N(0, I) prior).
Looped: the first chunk of each window repeated 32 times (a caricature of interpolation's repetition).

    .venv/bin/python benchmarks/framewise_pop909.py [NUM_FILES]

Prints Table-1/Table-2 style rows for the exact OA (with and without variance floors) and the original
formula. No TensorFlow.
"""
import sys

import numpy as np

from symdiff_tf.evaluation import metrics
from symdiff_tf.melody.records import file_to_melodies
from symdiff_tf.melody.render import tokens_to_note_sequence
from symdiff_tf.paths import shared_data_dir

WINDOW = 32


def windows_of(num_files: int) -> list[np.ndarray]:
    windows = []
    for path in sorted((shared_data_dir() / "pop909" / "midi").glob("*.mid"))[:num_files]:
        for record in file_to_melodies(path, track="MELODY"):
            for start in range(0, record.n_chunks - WINDOW + 1, WINDOW):
                windows.append(record.chunks[start:start + WINDOW])
    return windows


def main(num_files: int = 100) -> None:
    rng = np.random.default_rng(0)
    windows = windows_of(num_files)
    half = len(windows) // 2
    pool = np.concatenate(windows)
    sets = {
        "train (GT)": windows[:half],
        "test": windows[half:],
        "shuffled chunks": [pool[rng.integers(0, len(pool), WINDOW)] for _ in range(half)],
        "looped chunk": [np.repeat(w[:1], WINDOW, axis=0) for w in windows[half:]],
    }
    notes = {name: [tokens_to_note_sequence(w, continuous=name != "shuffled chunks") for w in ws]
             for name, ws in sets.items()}
    print(f"{len(windows)} windows of 64 bars from {num_files} POP909 files")
    keys = ["pitch_consistency", "pitch_variance", "duration_consistency", "duration_variance",
            "pitch_oa_mean", "pitch_oa_var", "duration_oa_mean", "duration_oa_var"]
    spec = metrics.FrameSpec(total_seconds=128.0)
    variants = {
        "exact": dict(formula="exact", spec=spec),
        "exact, min_variance=(1/12, 0.125²/12)": dict(formula="exact", spec=spec,
                                                       min_variance=(1 / 12, 0.125**2 / 12)),
        "original": dict(formula="original", spec=spec),
    }
    for variant, options in variants.items():
        ground_truth = metrics.overlap_statistics(notes["train (GT)"], **options)
        print(f"\n{variant}  (P = pitch, D = duration; C consistency, V variance)")
        print(f"{'set':18s} " + " ".join(f"{k:>10s}" for k in ["P C", "P V", "D C", "D V", "P mu", "P var",
                                                                "D mu", "D var"]))
        for name, pieces in notes.items():
            row = metrics.framewise_metrics(pieces, ground_truth, **options)
            print(f"{name:18s} " + " ".join(f"{row[k]:10.3f}" for k in keys))
    print("\nnote statistics (means)")
    for name, pieces in notes.items():
        stats = metrics.mean_note_statistics(pieces, total_seconds=128.0)
        print(f"{name:18s} " + "  ".join(f"{k}={v:.2f}" for k, v in stats.items()))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
