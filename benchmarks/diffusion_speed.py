"""Speed of the paper-size diffusion network: sampling and a training step at batch 64.

For each precision (float32, bfloat16) and execution mode (eager, compiled `tf.function`, compiled + XLA) it
prints network evaluations per second and the achieved GFLOP/s next to a matrix-multiply ceiling measured right
after that variant (the machine is shared and its load drifts: read ratios side by side, not absolute numbers).

    .venv/bin/python benchmarks/diffusion_speed.py                 # 1000 sampler steps (the paper's)
    .venv/bin/python benchmarks/diffusion_speed.py --steps 10 --train-steps 3 --repeats 2   # quick

FLOPs are counted analytically (multiply-add = 2 FLOPs): 1.3357 GFLOP per example per network evaluation at
paper size; a training step counts 3× the forward pass (forward + two backward matmuls per layer).
"""
import argparse
import dataclasses
import functools
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from symdiff_tf.config import from_dict, load_yaml  # noqa: E402
from symdiff_tf.diffusion.config import DDPMConfig, TransformerDDPMConfig  # noqa: E402
from symdiff_tf.diffusion.reverse import LatentSampler  # noqa: E402
from symdiff_tf.diffusion.schedule import LinearSchedule  # noqa: E402
from symdiff_tf.diffusion.task import DDPMTask  # noqa: E402
from symdiff_tf.models_common.precision import dtype_policy  # noqa: E402
from symdiff_tf.paths import REPO_ROOT  # noqa: E402
from symdiff_tf.training.step import build_state, build_train_step  # noqa: E402

PRECISIONS = ("float32", "bfloat16")  # --precisions may add float16 (for GPUs: benchmarks/gpu_check.sh)
MODES = ("eager", "compiled", "xla")


def forward_flops(model: TransformerDDPMConfig) -> float:
    """FLOPs of one TransformerDDPM forward pass for one example (one window)."""
    length, width, mlp = model.sequence_length, model.model_dims, model.mlp_dims
    per_position = (model.latent_dim * width + width * mlp + mlp * model.latent_dim
                    + model.num_layers * (4 * width * width + 2 * width * mlp)
                    + model.num_mlp_layers * 2 * mlp * mlp)
    attention = model.num_layers * 2 * length * length * width
    hidden = 4 * model.noise_encoding_dims
    film = model.num_mlp_layers * (model.noise_encoding_dims * hidden + hidden * hidden + 2 * hidden * mlp)
    return 2.0 * (length * per_position + attention + film)


@functools.lru_cache(maxsize=None)
def _matmul_chain(dtype_name: str, size: int, repeats: int):
    a = tf.random.normal([size, size], dtype=tf.float32)
    b = tf.cast(tf.random.normal([size, size], stddev=1.0 / np.sqrt(size)), dtype_name)

    @tf.function
    def chain():
        x = tf.cast(a, dtype_name)
        for _ in range(repeats):
            x = tf.matmul(x, b)
        return tf.reduce_sum(tf.cast(x, tf.float32))

    chain().numpy()
    return chain


def matmul_ceiling(dtype_name: str, size=2048, repeats=8, trials=3) -> float:
    """Best GFLOP/s of a chain of `size`² matrix products (the residual blocks' shape at batch 64)."""
    chain = _matmul_chain(dtype_name, size, repeats)
    best = min(_timed(lambda: chain().numpy()) for _ in range(trials))
    return 2.0 * size ** 3 * repeats / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def build_task(config: DDPMConfig, precision: str, weights=None) -> DDPMTask:
    with dtype_policy("none" if precision == "float32" else precision):
        keras.utils.set_random_seed(0)
        task = DDPMTask(config)
    if weights is not None:
        task.model.set_weights(weights)
    return task


def sampler_runner(task, mode, batch, steps):
    """A callable running `steps` DDPM steps at `batch` (`LatentSampler`); the untimed first run here compiles it."""
    sampler = LatentSampler(task.model, LinearSchedule(num_steps=steps), task.config.sampling,
                            jit_compile=(mode == "xla"))
    seeds = np.arange(batch)

    def run(first_seed):
        tf.config.run_functions_eagerly(mode == "eager")
        try:
            sampler.sample(seeds + first_seed, scheduler="ddpm", steps=steps)
        finally:
            tf.config.run_functions_eagerly(False)

    run(0)
    return lambda: run(batch)


def train_runner(config: DDPMConfig, precision, mode, batch, steps):
    """A callable running `steps` training steps at global batch `batch` on one device (compiled here)."""
    train_config = dataclasses.replace(config.train, batch_size=batch,
                                       mixed_precision="none" if precision == "float32" else precision)
    strategy = tf.distribute.get_strategy()
    task, state = build_state(lambda: DDPMTask(config), train_config, strategy)
    windows = np.random.default_rng(0).uniform(-1, 1, (batch, 32, config.model.latent_dim)).astype(np.float32)
    examples = [task.prepare_example(tf.constant(w), tf.constant([0, i], tf.int64)) for i, w in enumerate(windows)]
    features = {key: tf.stack([e[key] for e in examples]) for key in examples[0]}
    train_step = build_train_step(task, state, train_config, strategy, jit_compile=(mode == "xla"))

    def run():
        tf.config.run_functions_eagerly(mode == "eager")
        try:
            for _ in range(steps):
                loss, _ = train_step(features)
            loss.numpy()
        finally:
            tf.config.run_functions_eagerly(False)

    train_step(features)  # compile (also in eager mode: builds the optimizer's graph pieces)
    return run


def interleaved_best(runners: dict, repeats: int) -> dict:
    """Best seconds of each runner, timing them in turn so that load drift hits all of them alike."""
    best = {name: float("inf") for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            best[name] = min(best[name], _timed(run))
    return best


def network_error(task32, task16, batch=8) -> float:
    """Relative RMS difference of ε̂ between a mixed-precision task and float32 on random noisy inputs."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((batch, 32, task32.config.model.latent_dim)).astype(np.float32)
    level = rng.uniform(0.08, 1.0, batch).astype(np.float32)
    a = task32.model([x, level]).numpy()
    b = task16.model([x, level]).numpy()
    return float(np.sqrt(np.mean((a - b) ** 2) / np.mean(a ** 2)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO_ROOT / "configs" / "paper.yaml"))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1000, help="sampler steps per timed run")
    parser.add_argument("--train-steps", type=int, default=5, help="training steps per timed run")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs per variant, float32 and bfloat16 in turn (the best is kept)")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--out", default=None, help="also write the results as JSON")
    args = parser.parse_args(argv)

    config = from_dict(DDPMConfig, load_yaml(args.config)["ddpm"], f"{args.config}:ddpm")
    flops = forward_flops(config.model)
    modes, precisions = args.modes.split(","), args.precisions.split(",")
    print(f"forward: {flops / 1e9:.4f} GFLOP per example; batch {args.batch}; {args.steps} sampler steps; "
          f"{os.cpu_count()} CPUs; TF {tf.__version__}", flush=True)

    def local_ceiling(precision):
        """The ceiling measured right after a variant: the load on a shared machine drifts within a run."""
        return matmul_ceiling(precision, trials=2)

    ceilings = {p: local_ceiling(p) for p in precisions}
    for precision, ceiling in ceilings.items():
        print(f"matmul ceiling {precision} at start: {ceiling:.1f} GFLOP/s", flush=True)

    results = {"forward_gflop": flops / 1e9, "ceiling_gflops": ceilings, "sampler": {}, "train": {}}
    task32 = build_task(config, "float32")
    tasks = {"float32": task32}
    for precision in precisions:
        if precision != "float32":
            tasks[precision] = build_task(config, precision, task32.model.get_weights())
            results[f"{precision}_relative_error"] = network_error(task32, tasks[precision])
            print(f"{precision} network relative RMS error vs float32: "
                  f"{results[f'{precision}_relative_error']:.4f}")

    header = f"{'s/step':>9}{'rate':>10}{'GFLOP/s':>10}{'ceil now':>10}{'% ceiling':>11}"
    kinds = [("sampler", args.steps, 1)] + ([] if args.skip_train else [("train", args.train_steps, 3)])
    for kind, steps, flops_factor in kinds:
        print(f"\n{kind + (' (rate=evals/s)' if kind == 'sampler' else ' (rate=ex/s)'):<24}{header}")
        for mode in modes:
            if kind == "sampler":
                runners = {p: sampler_runner(tasks[p], mode, args.batch, steps) for p in precisions}
            else:
                runners = {p: train_runner(config, p, mode, args.batch, steps) for p in precisions}
            best = interleaved_best(runners, args.repeats)
            del runners
            for precision in precisions:
                seconds = best[precision] / steps
                local = local_ceiling(precision)
                gflops = args.batch * flops_factor * flops / seconds / 1e9
                rate = args.batch / seconds
                results[kind][f"{precision}/{mode}"] = {"seconds_per_step": seconds, "gflops": gflops,
                                                        "ceiling_now": local}
                print(f"{precision + ' ' + mode:<24}{seconds:>9.3f}{rate:>10.1f}{gflops:>10.1f}"
                      f"{local:>10.1f}{100 * gflops / local:>10.0f}%", flush=True)
    for kind in ("sampler", "train"):
        speeds = results[kind]
        for mode in modes:
            for precision in precisions:
                if precision != "float32" and f"float32/{mode}" in speeds and f"{precision}/{mode}" in speeds:
                    ratio = speeds[f"{precision}/{mode}"]["gflops"] / speeds[f"float32/{mode}"]["gflops"]
                    results[kind][f"{precision}_speedup/{mode}"] = ratio
                    print(f"{kind} {precision} / float32 speed ({mode}): {ratio:.2f}x")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
