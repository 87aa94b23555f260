"""Speed of `symdiff_tf.melody.midi_io.read_midi` against `note_seq.midi_file_to_note_sequence` on the same
POP909 files, side by side in one run (files/s for both and the ratio), checking that both give the same notes.

    .venv/bin/python benchmarks/midi_read_speed.py [--files 100] [--repeats 3]

Each repeat times both readers over the same files, alternating; the best repeat of each is reported (the machine
is noisy: read +-10% as noise).
"""
import argparse
import time
import warnings

import numpy as np

from symdiff_tf.melody.midi_io import read_midi
from symdiff_tf.paths import shared_data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100, help="first N POP909 files (default 100)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import note_seq

    files = sorted((shared_data_dir() / "pop909" / "midi").glob("*.mid"))[: args.files]
    ours, theirs = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        scores = [read_midi(path) for path in files]
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        sequences = [note_seq.midi_file_to_note_sequence(str(path)) for path in files]
        theirs.append(time.perf_counter() - start)
    differing = sum(
        not (np.array_equal(score.start, [n.start_time for n in seq.notes])
             and np.array_equal(score.end, [n.end_time for n in seq.notes])
             and np.array_equal(score.pitch, [n.pitch for n in seq.notes])
             and np.array_equal(score.instrument, [n.instrument for n in seq.notes]))
        for score, seq in zip(scores, sequences))
    ours_rate, theirs_rate = len(files) / min(ours), len(files) / min(theirs)
    print(f"{len(files)} POP909 files, best of {args.repeats}")
    print(f"read_midi                           {ours_rate:8.1f} files/s")
    print(f"note_seq.midi_file_to_note_sequence {theirs_rate:8.1f} files/s")
    print(f"ratio                               {ours_rate / theirs_rate:8.1f}x")
    print(f"files whose notes differ            {differing:8d}")


if __name__ == "__main__":
    main()
