"""Full melody parity check against magenta, and the melody statistics of both quantisation modes (issues 2 and 8).

1. All POP909 `MELODY` tracks and all Lakh sample files: our 2-bar chunks and rest flags against magenta's own
   pipeline (`scripts/magenta_ref/melody_chunks.py`), melody for melody. Prints the number of differing chunks
   (must be 0) and exits 1 otherwise.
2. For the POP909 `MELODY` tracks, per mode ("paper", "beats"): melodies, chunks, rest chunks, and windows of 32
   and 16 chunks (stride 1, without rests and with them), and how many songs reach one 32-chunk window.

Usage: .venv/bin/python scripts/check_melody_parity.py [--pop909 DIR] [--lakh DIR] [--limit N]
Takes about 5 minutes on 2 cores (magenta does most of it).
"""
import argparse
import pathlib
import sys
import tempfile

import numpy as np
from tqdm import tqdm

from magenta_ref import run_magenta_script
from symdiff_tf.melody import file_to_melodies
from symdiff_tf.melody.windows import window_starts
from symdiff_tf.paths import shared_data_dir


def magenta_reference(files, track, workdir):
    """Per file: (list of chunk arrays per melody, rest flags, error string) from magenta."""
    listing = pathlib.Path(workdir) / f"files_{track}.txt"
    listing.write_text("\n".join(map(str, files)) + "\n", encoding="utf-8")
    out = pathlib.Path(workdir) / f"magenta_{track}.npz"
    run_magenta_script("melody_chunks.py", "--list", listing, "--out", out, "--rests",
                       *(["--track", track] if track else []), timeout=7200)
    ref = np.load(out)
    results = []
    for i in range(len(files)):
        lengths = ref[f"lengths_{i}"]
        melodies = np.split(ref[f"chunks_{i}"], np.cumsum(lengths)[:-1]) if len(lengths) else []
        results.append((melodies, ref[f"rests_{i}"], str(ref["errors"][i])))
    return results


def compare(files, track, workdir):
    """Counts chunks (and rest flags) that differ from magenta; prints each file that differs."""
    counts = dict(files=0, melodies=0, chunks=0, differing_chunks=0, differing_rests=0, unreadable=0)
    references = magenta_reference(files, track, workdir)
    for path, (ref_melodies, ref_rests, error) in zip(tqdm(files, desc=f"ours ({track or 'all tracks'})"),
                                                      references):
        counts["files"] += 1
        try:
            records = file_to_melodies(path, track=track)
        except ValueError as e:
            if error:
                counts["unreadable"] += 1
                continue
            records, ours_error = [], str(e)
        else:
            ours_error = ""
        if error:  # magenta failed where we did not: every chunk we produce differs
            print(f"DIFFERENT {path}: magenta failed ({error}), ours did not")
        differing = 0
        for i in range(max(len(records), len(ref_melodies))):
            ours = records[i].chunks if i < len(records) else np.zeros((0, 32))
            theirs = ref_melodies[i] if i < len(ref_melodies) else np.zeros((0, 32))
            n = min(len(ours), len(theirs))
            differing += int(np.any(ours[:n] != theirs[:n], axis=1).sum()) + abs(len(ours) - len(theirs))
        ours_rests = np.concatenate([r.rests for r in records]) if records else np.zeros(0, bool)
        rest_diff = (int((ours_rests != ref_rests).sum()) if len(ours_rests) == len(ref_rests)
                     else max(len(ours_rests), len(ref_rests)))
        if differing or rest_diff or ours_error:
            print(f"DIFFERENT {path}: {differing} chunks, {rest_diff} rest flags {ours_error}")
        counts["melodies"] += len(ref_melodies)
        counts["chunks"] += sum(len(m) for m in ref_melodies)
        counts["differing_chunks"] += differing
        counts["differing_rests"] += rest_diff
    return counts


def mode_statistics(files, mode):
    """Melodies, chunks and windows of the POP909 melody tracks in one quantisation mode."""
    stats = dict(melodies=0, melodies_with_chunks=0, chunks=0, rest_chunks=0, songs_with_32_window=0,
                 windows_32=0, windows_32_with_rests=0, windows_16=0, windows_16_with_rests=0)
    for path in tqdm(files, desc=f"mode {mode}"):
        records = file_to_melodies(path, track="MELODY", quantize=mode)
        stats["melodies"] += len(records)
        stats["melodies_with_chunks"] += sum(r.n_chunks > 0 for r in records)
        stats["chunks"] += sum(r.n_chunks for r in records)
        stats["rest_chunks"] += sum(int(r.rests.sum()) for r in records)
        stats["songs_with_32_window"] += any(r.n_chunks >= 32 for r in records)
        for length in (32, 16):
            stats[f"windows_{length}"] += sum(len(window_starts(r.n_chunks, length, rests=r.rests)) for r in records)
            stats[f"windows_{length}_with_rests"] += sum(
                len(window_starts(r.n_chunks, length, allow_rests=True)) for r in records)
    return stats


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pop909", type=pathlib.Path, default=shared_data_dir() / "pop909" / "midi")
    parser.add_argument("--lakh", type=pathlib.Path, default=shared_data_dir() / "lakh_clean_mini")
    parser.add_argument("--limit", type=int, default=None, help="only the first N files of each set (quick runs)")
    args = parser.parse_args(argv)
    pop909 = sorted(args.pop909.glob("*.mid"))[:args.limit]
    lakh = sorted(args.lakh.rglob("*.mid"))[:args.limit]
    with tempfile.TemporaryDirectory() as workdir:
        results = {"POP909 MELODY": compare(pop909, "MELODY", workdir), "Lakh (all tracks)": compare(lakh, None, workdir)}
    print("\nParity with magenta (paper mode):")
    for name, counts in results.items():
        print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    differing = sum(c["differing_chunks"] + c["differing_rests"] for c in results.values())
    print(f"differing chunks: {sum(c['differing_chunks'] for c in results.values())}, "
          f"differing rest flags: {sum(c['differing_rests'] for c in results.values())}")

    print(f"\nPOP909 MELODY tracks ({len(pop909)} songs), windows at stride 1:")
    for mode in ("paper", "beats"):
        stats = mode_statistics(pop909, mode)
        print(f"  {mode}: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
