"""How often a bundle's melodies repeat a 2-bar chunk, against POP909's own windows, and why in latent space.

For every 64-bar window (32 chunks) and every chunk after the first, the chunk's nearest earlier chunk of the same
window is found in the MusicVAE's latent space (Euclidean distance over the kept dims, unscaled, in units of
the posterior noise: the mean over the data's chunks of sqrt(2·Σ sigma²), the expected distance between two
posterior draws of one chunk, which differs between MusicVAEs). Reported per source:
- `repeats_earlier_chunk`: the share of chunks whose tokens equal an earlier chunk's exactly (a repeated bar pair,
  what a listener hears as a repeat);
- `nearest_distance_bins`: the share of chunks whose nearest earlier chunk lies within each distance bin, and
  `decoded_same`: of those, the share whose tokens equal that chunk's (does a near copy come out as a copy?).

Sources: the bundle's unconditional melodies (`sample` signature, its default scheduler and steps, greedy
decoding, seeds `--seed` on); the split's windows (POP909 MELODY, beats, every 64-bar window at a stride of 16
chunks) encoded by the bundle's MusicVAE, once as the encoder's mu (identical tokens give identical latents) and
once as one posterior draw z = mu + sigma·eps, decoded greedily (what a diffusion model trained on posterior draws
sees as a repeat).

    python scripts/repetition_probe.py --bundle runs/candidate/bundle/1 [--bundle OTHER ...] [--samples 96]
"""
import argparse
import json
import pathlib

import numpy as np

from listening_measures import WINDOW_CHUNKS, split_files
from symdiff_tf.melody import file_to_melodies
from symdiff_tf.melody.splits import SPLITS
from symdiff_tf.melody.windows import melody_windows

DATA_STRIDE = 16
BINS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)  # latent distance in units of the posterior noise (see the docstring)


def repetition_profile(latents: np.ndarray, tokens: np.ndarray, unit: float) -> dict:
    """latents `[B, 32, k]` (unscaled), tokens `[B, 32, 32]`, `unit` the posterior noise distance -> the shares
    described in the module docstring."""
    counts = np.zeros(len(BINS) - 1)
    same = np.zeros(len(BINS) - 1)
    repeats = 0
    for window_latents, window_tokens in zip(latents, tokens):
        keys = [chunk.tobytes() for chunk in np.asarray(window_tokens, np.int32)]
        for i in range(1, len(keys)):
            repeats += keys[i] in keys[:i]
            distances = np.linalg.norm(window_latents[:i] - window_latents[i], axis=-1) / unit
            nearest = int(np.argmin(distances))
            position = np.searchsorted(BINS, distances[nearest], side="right") - 1
            if position < len(BINS) - 1:
                counts[position] += 1
                same[position] += keys[i] == keys[nearest]
    chunks = len(tokens) * (tokens.shape[1] - 1)
    labels = [f"{low:g}-{high:g}" for low, high in zip(BINS[:-1], BINS[1:])]
    return {"windows": int(len(tokens)), "repeats_earlier_chunk": round(repeats / chunks, 4),
            "nearest_distance_bins": dict(zip(labels, np.round(counts / chunks, 4).tolist())),
            "decoded_same": dict(zip(labels, np.round(same / np.maximum(counts, 1), 3).tolist()))}


def split_windows(split: str) -> np.ndarray:
    """Tokens `[n, 32, 32]` of every 64-bar window of the split's melodies at a stride of `DATA_STRIDE` chunks."""
    records = [record for path in split_files(split)
               for record in file_to_melodies(path, track="MELODY", quantize="beats")]
    windows = [window for record in records
               for window in melody_windows(record.chunks, length=WINDOW_CHUNKS, stride=DATA_STRIDE,
                                            allow_rests=True)]
    return np.stack(windows).astype(np.int32)


def main() -> int:
    from symdiff_tf.cli.terminal import quiet_stderr

    quiet_stderr()  # TensorFlow's start-up noise off the terminal (before TensorFlow is imported)
    import tensorflow as tf

    from symdiff_tf.data.scaler import LatentScaler

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", action="append", required=True, help="a SavedModel bundle (repeatable)")
    parser.add_argument("--split", choices=SPLITS, default="validation")
    parser.add_argument("--samples", type=int, default=96, help="unconditional melodies per bundle")
    parser.add_argument("--seed", type=int, default=100, help="first seed of the samples and the posterior draw")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()

    data_tokens = split_windows(args.split)
    result = {"split": args.split, "data_windows": int(len(data_tokens)), "bundles": {}}
    for folder in args.bundle:
        bundle = tf.saved_model.load(folder)
        scaler = LatentScaler.load(pathlib.Path(folder) / "assets" / "latent_scaling.json")
        kept = np.asarray(scaler.kept_dims)
        seeds = tf.range(args.seed, args.seed + args.samples, dtype=tf.int32)
        sampled = bundle.signatures["serving_default"](seeds=seeds)
        encoded = bundle.signatures["encode"](tokens=tf.constant(data_tokens))
        mu, sigma = encoded["mu"].numpy()[..., kept], encoded["sigma"].numpy()[..., kept]
        unit = float(np.sqrt(2.0 * np.square(sigma).sum(-1)).mean())
        draw = mu + sigma * np.random.default_rng(args.seed).standard_normal(mu.shape).astype(np.float32)
        decoded = bundle.signatures["decode"](latents=tf.constant(scaler.scale(draw), tf.float32),
                                              temperature=tf.constant(0.0))
        result["bundles"][folder] = {
            "posterior_noise_distance": round(unit, 4),
            "samples": repetition_profile(scaler.unscale(sampled["latents"].numpy()), sampled["tokens"].numpy(),
                                          unit),
            "data_mu": repetition_profile(mu, data_tokens, unit),
            "data_posterior_draw": repetition_profile(draw, decoded["tokens"].numpy(), unit)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
