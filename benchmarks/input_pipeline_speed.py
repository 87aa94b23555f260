"""Windows per second the training input delivers, against what the paper-size training step consumes.

    .venv/bin/python benchmarks/input_pipeline_speed.py [--windows 200000] [--batch 64] [--batches 300]

The input is the trainer's own (`symdiff_tf.training.loop.distributed_training_data`): the endless shuffled stream
of `symdiff_tf.data.stream`, the diffusion task's `prepare_example` (noise level and noise per window), batches of
64 windows `[32, 42]` (paper size), prefetched; the windows are random, held in memory as the trainer holds them.
The step is the paper-size `TransformerDDPM` training step at batch 64 (float32, compiled; from
`benchmarks/diffusion_speed.py`). Both run in this process, one after the other: the ratio is what to read (the
machine is shared). The input must deliver at least 10x what the step consumes; the last line also gives the
shortest step time (e.g. on a GPU) for which it still does.
"""
import argparse
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from diffusion_speed import train_runner  # noqa: E402
from symdiff_tf.config import from_dict, load_yaml  # noqa: E402
from symdiff_tf.diffusion.config import DDPMConfig  # noqa: E402
from symdiff_tf.diffusion.task import DDPMTask  # noqa: E402
from symdiff_tf.paths import REPO_ROOT  # noqa: E402
from symdiff_tf.training.loop import distributed_training_data  # noqa: E402

HEADROOM = 10


def input_rate(config: DDPMConfig, num_windows: int, batches: int) -> float:
    """Windows per second out of the trainer's input pipeline (after a warm-up of 20 batches)."""
    windows = np.random.default_rng(0).uniform(-1, 1, (num_windows, 32, config.model.latent_dim)).astype(np.float32)
    data = iter(distributed_training_data(DDPMTask(config), tf.data.Dataset.from_tensor_slices(windows),
                                          config.train, tf.distribute.get_strategy(), data_position=0))
    for _ in range(20):
        next(data)
    start = time.perf_counter()
    for _ in range(batches):
        batch = next(data)
    tf.nest.map_structure(lambda t: t.numpy(), batch)
    return batches * config.train.batch_size / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO_ROOT / "configs" / "paper.yaml"))
    parser.add_argument("--windows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--train-steps", type=int, default=3)
    args = parser.parse_args()
    config = from_dict(DDPMConfig, load_yaml(args.config)["ddpm"], f"{args.config}:ddpm")
    config.train.batch_size = args.batch
    delivered = input_rate(config, args.windows, args.batches)
    print(f"input pipeline: {delivered:,.0f} windows/s", flush=True)
    step = train_runner(config, "float32", "compiled", args.batch, args.train_steps)
    start = time.perf_counter()
    step()
    step_seconds = (time.perf_counter() - start) / args.train_steps
    consumed = args.batch / step_seconds
    print(f"paper-size training step, float32 compiled, batch {args.batch}: {step_seconds:.3f} s = "
          f"{consumed:,.1f} windows/s; input / step = {delivered / consumed:,.0f}x (needed: {HEADROOM}x)")
    print(f"the input keeps {HEADROOM}x headroom for any step of at least "
          f"{HEADROOM * args.batch / delivered * 1e3:.2f} ms at batch {args.batch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
