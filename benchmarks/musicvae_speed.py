"""MusicVAE cat-mel_2bar_big decode/encode speed: magenta's TrainedModel vs ours, side by side in one run.

    .venv/bin/python benchmarks/musicvae_speed.py [--batches 1,64,1024] [--workdir DIR] [--checkpoint PREFIX]

One randomly initialised cat-mel_2bar_big checkpoint (made by magenta's own code unless --checkpoint is given)
is decoded greedily and encoded by magenta (a child process under Keras 2) and by our imported model in float32
and bfloat16, at each batch size. Printed: chunks/s, our/magenta ratio, achieved GFLOP/s against a matrix-multiply
ceiling measured in this run (float32 and bfloat16), greedy agreement with magenta (float32, must be 100%) and
between our bfloat16 and float32 (target >= 99%). Costs per chunk (original cat-mel_2bar_big shapes, magenta's
graph): decode 5.709 GFLOP, encode 2.250 GFLOP. Targets (issue 3): float32 >= magenta at every batch size;
bfloat16 >= 1.6x magenta. The machine is shared and noisy: read +-10% as noise.
"""
import argparse
import pathlib
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "scripts"))  # magenta_ref
from magenta_ref import run_magenta_script  # noqa: E402

DECODE_GFLOP = 5.709
ENCODE_GFLOP = 2.250


def matmul_ceiling(dtype: str, repeats: int = 5) -> float:
    """GFLOP/s of a [512, 4096] x [4096, 8192] matmul (the decoder's layer shape) in a tf.function."""
    import tensorflow as tf

    a = tf.cast(tf.random.stateless_normal([512, 4096], seed=[0, 1]), dtype)
    b = tf.cast(tf.random.stateless_normal([4096, 8192], seed=[0, 2]), dtype)
    product = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y), tf.float32)))
    product(a, b)
    best = min(_timed(lambda: float(product(a, b)))[0] for _ in range(repeats))
    return 2 * 512 * 4096 * 8192 / best / 1e9


def _timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def best_seconds(function, repeats):
    results = [_timed(function) for _ in range(repeats)]
    return min(r[0] for r in results), results[-1][1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,64,1024")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--checkpoint", default=None, help="an existing cat-mel_2bar_big checkpoint prefix")
    parser.add_argument("--work-per-batch", type=float, default=64.0,
                        help="chunks per measurement (repeats = max(1, this // batch)); the best repeat counts")
    args = parser.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    with tempfile.TemporaryDirectory(prefix="musicvae_speed_") as tmp:
        workdir = pathlib.Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        prefix = args.checkpoint
        if prefix is None:
            start = time.time()
            prefix = run_magenta_script("musicvae_reference.py", workdir, "--base", "cat-mel_2bar_big",
                                        "--weight-scale", "2.0", "--no-outputs").strip().splitlines()[-1]
            print(f"random cat-mel_2bar_big checkpoint by magenta in {time.time() - start:.0f} s", flush=True)
        rng = np.random.default_rng(0)
        inputs = {}
        for batch in batches:
            inputs[f"z_{batch}"] = rng.normal(size=(batch, 512)).astype(np.float32)
            inputs[f"tokens_{batch}"] = rng.integers(0, 90, (batch, 32))
        np.savez(workdir / "inputs.npz", **inputs)

        start = time.time()
        print(run_magenta_script("musicvae_speed.py", prefix, workdir / "inputs.npz", workdir / "magenta.npz",
                                 "--batches", args.batches, "--work-per-batch", args.work_per_batch,
                                 timeout=3600).strip(), flush=True)
        print(f"magenta side took {time.time() - start:.0f} s", flush=True)
        magenta = np.load(workdir / "magenta.npz")

        from symdiff_tf.musicvae.magenta_import import import_checkpoint

        model = import_checkpoint(prefix, "cat-mel_2bar_big")
        ceiling = {"float32": matmul_ceiling("float32"), "bfloat16": matmul_ceiling("bfloat16")}
        print(f"matmul ceiling: float32 {ceiling['float32']:.0f} GFLOP/s, bfloat16 {ceiling['bfloat16']:.0f} GFLOP/s",
              flush=True)
        for precision in ("float32", "bfloat16"):  # trace once, untimed
            model.decode(inputs[f"z_{batches[0]}"][:1], precision=precision)
            model.encode(inputs[f"tokens_{batches[0]}"][:1], precision=precision)

        rows = []
        for batch in batches:
            z, tokens = inputs[f"z_{batch}"], inputs[f"tokens_{batch}"]
            repeats = max(1, int(args.work_per_batch // batch))
            row = {"batch": batch, "magenta_decode": batch / float(magenta[f"decode_seconds_{batch}"]),
                   "magenta_encode": batch / float(magenta[f"encode_seconds_{batch}"])}
            greedy = {}
            for precision in ("float32", "bfloat16"):
                seconds, greedy[precision] = best_seconds(lambda: model.decode(z, precision=precision), repeats)
                row[f"decode_{precision}"] = batch / seconds
                seconds, _ = best_seconds(lambda: model.encode(tokens, precision=precision), repeats)
                row[f"encode_{precision}"] = batch / seconds
            row["agree_magenta"] = float((greedy["float32"] == magenta[f"greedy_{batch}"]).mean())
            row["agree_bf16"] = float((greedy["bfloat16"] == greedy["float32"]).mean())
            rows.append(row)
            print(f"ours batch {batch}: decode f32 {row['decode_float32']:.2f} bf16 {row['decode_bfloat16']:.2f} "
                  f"chunks/s; encode f32 {row['encode_float32']:.2f} bf16 {row['encode_bfloat16']:.2f}", flush=True)
        ceiling_after = matmul_ceiling("float32")
        print(f"float32 matmul ceiling after the runs: {ceiling_after:.0f} GFLOP/s")

        for what, gflop in (("decode", DECODE_GFLOP), ("encode", ENCODE_GFLOP)):
            label = "decode (greedy)" if what == "decode" else "encode"
            print(f"\n{label} chunks/s; in brackets GFLOP/s as % of the ceiling of its precision measured before "
                  "our runs")
            print(f"{'batch':>6} {'magenta':>16} {'ours f32':>16} {'f32/mag':>8} {'ours bf16':>16} {'bf16/mag':>9}")
            for row in rows:
                def cell(rate, precision):
                    return f"{rate:7.2f} ({rate * gflop / ceiling[precision]:4.0%})"
                mag = row[f"magenta_{what}"]
                print(f"{row['batch']:>6} {cell(mag, 'float32'):>16} {cell(row[f'{what}_float32'], 'float32'):>16} "
                      f"{row[f'{what}_float32'] / mag:7.2f}x {cell(row[f'{what}_bfloat16'], 'bfloat16'):>16} "
                      f"{row[f'{what}_bfloat16'] / mag:8.2f}x")
        print("\ngreedy tokens: " + "; ".join(
            f"batch {r['batch']}: f32 = magenta {r['agree_magenta']:.2%}, bf16 = f32 {r['agree_bf16']:.2%}"
            for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
