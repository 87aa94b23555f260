"""Chunks encoded per second by the lakh_midi builder (batched over melodies) against one melody at a time.

    .venv/bin/python benchmarks/tfds_encode_speed.py [--config cat-mel_2bar_big | --vae FILE.keras]
        [--melodies 60] [--batch 256] [--repeats 3]

Melodies come from ../shared/data/lakh_clean_mini through the melody layer (paper mode), so the chunk counts per
melody are the real ones (median ~25). Both ways use the builder's own `ChunkEncoder` (rest chunks are not
encoded); "batched" fills each VAE call with up to --batch chunks from several melodies, as the builder does,
"per melody" makes one call per melody (the original made one call per chunk: `--per-chunk` adds that row).
A randomly initialised model of the chosen config has the same cost as a trained one. Side by side, one run,
repeated: read ±10% as noise (../shared/docs/environment.md).
"""
import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from symdiff_tf import melody  # noqa: E402
from symdiff_tf.paths import shared_data_dir  # noqa: E402
from tfds_lakh.lakh_midi_dataset_builder import ChunkEncoder, find_midi_files, read_melodies, make_config  # noqa: E402


def load_melodies(limit):
    config = make_config()
    found = []
    for name, path in find_midi_files(shared_data_dir() / "lakh_clean_mini"):
        melodies, _ = read_melodies(name, path, config)
        found += melodies
        if len(found) >= limit:
            break
    return found[:limit]


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cat-mel_2bar_big", help="MusicVAE config (random weights)")
    parser.add_argument("--vae", default=None, help="a .keras MusicVAE instead of --config")
    parser.add_argument("--melodies", type=int, default=60)
    parser.add_argument("--batch", type=int, default=256, help="chunks per VAE call when batched")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--per-chunk", action="store_true", help="also time one chunk per call (the original)")
    args = parser.parse_args()

    if args.vae:
        vae_path = args.vae
    else:
        import tempfile

        from symdiff_tf import musicvae

        vae_path = str(pathlib.Path(tempfile.mkdtemp()) / f"{args.config}.keras")
        musicvae.build_model(args.config).save(vae_path)
    melodies = load_melodies(args.melodies)
    chunks = sum(int((~m["rests"]).sum()) for m in melodies)
    print(f"VAE {args.vae or args.config}; {len(melodies)} melodies, {chunks} non-rest chunks "
          f"(median {int(np.median([(~m['rests']).sum() for m in melodies]))} per melody)")

    batched = ChunkEncoder(vae_path, args.batch)
    single = ChunkEncoder(vae_path, 10**9)
    single._model = batched.model  # one model, already traced: only the call pattern differs
    batched.encode_melodies([dict(m) for m in melodies[:2]])  # warm up (trace) once

    ways = {"batched (builder)": lambda: batched.encode_melodies([dict(m) for m in melodies]),
            "one melody per call": lambda: [single.encode_melodies([dict(m)]) for m in melodies]}
    if args.per_chunk:
        per_chunk = ChunkEncoder(vae_path, 1)
        per_chunk._model = batched.model
        ways["one chunk per call (original)"] = lambda: per_chunk.encode_melodies([dict(m) for m in melodies])
    rates = {name: [] for name in ways}
    for _ in range(args.repeats):
        for name, fn in ways.items():
            rates[name].append(chunks / timed(fn))
    base = np.median(rates["one melody per call"])
    for name, values in rates.items():
        print(f"{name:32s} {np.median(values):9.1f} chunks/s  (runs: {', '.join(f'{v:.1f}' for v in values)})"
              f"  x{np.median(values) / base:.2f}")


if __name__ == "__main__":
    main()
