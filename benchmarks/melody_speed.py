"""Speed of our MIDI -> melodies -> 2-bar chunks against magenta's pipeline, on the same POP909 files in one run.

Both sides do the whole job per file: read the MIDI file, extract melodies from all tracks (paper mode), and turn
each into chunks. Ours: `symdiff_tf.melody.file_to_melodies` (also computes rest flags). magenta's:
`note_seq.midi_file_to_note_sequence` + the paper's extraction + `OneHotMelodyConverter.to_tensors`
(`scripts/magenta_ref/melody_chunks.py`, timed inside the child process so TensorFlow's import is not counted).
The two are run alternately `--repeats` times; the machine is noisy, so read the ratio of the medians.

Usage: .venv/bin/python benchmarks/melody_speed.py [--files 100] [--repeats 3] [--track MELODY]
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # magenta_ref
from magenta_ref import run_magenta_script  # noqa: E402
from symdiff_tf.melody import file_to_melodies
from symdiff_tf.paths import shared_data_dir


def time_ours(files, track):
    started = time.perf_counter()
    chunks = sum(r.n_chunks for path in files for r in file_to_melodies(path, track=track))
    return time.perf_counter() - started, chunks


def time_magenta(files, track, workdir):
    listing = Path(workdir) / "files.txt"
    listing.write_text("\n".join(map(str, files)) + "\n", encoding="utf-8")
    out = Path(workdir) / "magenta.npz"
    stdout = run_magenta_script("melody_chunks.py", "--list", listing, "--out", out,
                                *(["--track", track] if track else []))
    ref = np.load(out)
    chunks = sum(len(ref[f"chunks_{i}"]) for i in range(len(files)))
    return float(stdout.strip().splitlines()[-1]), chunks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100, help="first N POP909 files")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--track", default=None, help="only this track (default: all tracks, as magenta's pipeline)")
    args = parser.parse_args(argv)
    files = sorted((shared_data_dir() / "pop909" / "midi").glob("*.mid"))[:args.files]
    ours_times, magenta_times = [], []
    with tempfile.TemporaryDirectory() as workdir:
        for repeat in range(args.repeats):
            seconds, ours_chunks = time_ours(files, args.track)
            ours_times.append(seconds)
            seconds, magenta_chunks = time_magenta(files, args.track, workdir)
            magenta_times.append(seconds)
            print(f"repeat {repeat + 1}: ours {len(files) / ours_times[-1]:.1f} files/s, "
                  f"magenta {len(files) / magenta_times[-1]:.1f} files/s", flush=True)
    if ours_chunks != magenta_chunks:
        print(f"WARNING: different chunk counts: ours {ours_chunks}, magenta {magenta_chunks}")
    ours, magenta = statistics.median(ours_times), statistics.median(magenta_times)
    print(f"{len(files)} POP909 files ({args.track or 'all tracks'}), {ours_chunks} chunks")
    print(f"ours:    {len(files) / ours:.1f} files/s")
    print(f"magenta: {len(files) / magenta:.1f} files/s")
    print(f"ratio:   {magenta / ours:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
