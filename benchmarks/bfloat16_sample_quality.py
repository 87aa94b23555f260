"""Do bfloat16 samples score the same as float32 ones? Latent FD and MMD (Table 3's measures) per seed.

    .venv/bin/python benchmarks/bfloat16_sample_quality.py                      # trains configs/cpu.yaml first
    .venv/bin/python benchmarks/bfloat16_sample_quality.py --workdir runs/ddpm --config configs/paper.yaml \
        --data tfds:lakh_midi/CONFIG@DIR --train-steps 0

When --workdir holds no checkpoint, the config is first trained on --data for --train-steps steps with the
`symdiff train` command (resumable). Then, for each seed, `--samples` windows are drawn with the network in
float32 and in bfloat16 (the same seed, so the same start noise and step noise; the schedule and update
arithmetic are float32 in both), and FD and MMD of each against the data's evaluation windows are printed.
The spread over seeds within float32 is the noise floor: bfloat16 scores the same when its mean lies within it.
"""
import argparse
import pathlib
import subprocess
import sys
import time

import numpy as np

from symdiff_tf.paths import REPO_ROOT

PRECISIONS = ("none", "bfloat16")


def train_if_needed(args) -> None:
    """Runs `symdiff train` up to --train-steps (it resumes from --workdir's checkpoint, and stops at once when that
    is already there); --train-steps 0 uses the workdir's checkpoint as it is."""
    import tensorflow as tf

    if args.train_steps == 0:
        if tf.train.latest_checkpoint(str(pathlib.Path(args.workdir) / "checkpoints")) is None:
            raise SystemExit(f"--train-steps 0: {args.workdir} has no checkpoint to sample from")
        return
    command = [sys.executable, "-m", "symdiff_tf.cli", "train", "--config", args.config, "--data", args.data,
               "--workdir", args.workdir, "--max-steps", str(args.train_steps), "--no-progress"]
    start = time.time()
    subprocess.run(command, check=True)
    print(f"trained to step {args.train_steps} in {time.time() - start:.0f} s", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO_ROOT / "configs" / "cpu.yaml"))
    parser.add_argument("--data", default="synthetic:8192")
    parser.add_argument("--workdir", default="runs/bfloat16_quality")
    parser.add_argument("--train-steps", type=int, default=3000, help="0 = use the workdir's checkpoint as it is")
    parser.add_argument("--samples", type=int, default=512, help="windows per seed and precision")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--ddim-steps", type=int, default=0, help="0 = DDPM over all steps (the config's form)")
    args = parser.parse_args(argv)

    from symdiff_tf.data.sources import load_window_array
    from symdiff_tf.diffusion.inference import open_run
    from symdiff_tf.evaluation.metrics.latent import latent_metrics

    train_if_needed(args)
    reference = load_window_array(args.data, "eval")
    train = load_window_array(args.data, "train")
    floor = latent_metrics(reference, train[:len(reference)])
    print(f"train windows vs eval windows: FD {floor['fd']:.4f}  MMD {floor['mmd']:.4f}  (the best a model can do)")

    scores = {precision: [] for precision in PRECISIONS}
    for precision in PRECISIONS:
        sampler = open_run(args.workdir, args.config, precision=precision, with_scaler=False).sampler
        for seed in range(args.seeds):
            start = time.time()
            seeds = seed * args.samples + np.arange(args.samples)  # one seed per window, none shared across seeds
            if args.ddim_steps:
                samples = sampler.sample(seeds, "ddim", args.ddim_steps)
            else:
                samples = sampler.sample(seeds, "ddpm")
            scores[precision].append(latent_metrics(reference, samples) | {"samples": samples})
            row = scores[precision][-1]
            print(f"{precision:>9} seed {seed}: FD {row['fd']:.4f}  MMD {row['mmd']:.4f}  "
                  f"({time.time() - start:.0f} s)", flush=True)

    print(f"\n{'':>9} {'FD mean ± sd over seeds':>26} {'MMD mean ± sd over seeds':>26}")
    for precision in PRECISIONS:
        fd = np.array([row["fd"] for row in scores[precision]])
        mmd = np.array([row["mmd"] for row in scores[precision]])
        print(f"{precision:>9} {fd.mean():>15.4f} ± {fd.std(ddof=1) if len(fd) > 1 else 0:.4f}"
              f" {mmd.mean():>15.4f} ± {mmd.std(ddof=1) if len(mmd) > 1 else 0:.4f}")
    differences = [np.abs(a["samples"] - b["samples"]) for a, b in zip(scores["none"], scores["bfloat16"])]
    print(f"same seed, bfloat16 vs float32 samples: mean |difference| {np.mean(differences):.4f}, "
          f"max {np.max(differences):.4f} (values in [-1, 1])")
    return 0


if __name__ == "__main__":
    sys.exit(main())
