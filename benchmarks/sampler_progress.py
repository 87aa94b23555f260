"""What the progress bar of `symdiff sample` / `symdiff infill` costs: the compiled sampler run in one call against
the same sampler run in spans of steps with a tqdm bar updated between them (`LatentSampler`'s `progress`).

    .venv/bin/python benchmarks/sampler_progress.py                       # configs/tiny.yaml and configs/cpu.yaml
    .venv/bin/python benchmarks/sampler_progress.py --configs cpu --repeats 5 --num 64

Untrained networks of each config's size (speed does not depend on the weights). Both variants are traced once
before timing; then they alternate, `--repeats` times each, and the median seconds of each and their ratio are
printed (the machine may be shared: read the ratio, measured side by side, not the absolute numbers). The two
variants also give the same samples, which is checked.
"""
import argparse
import io
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tqdm  # noqa: E402

from symdiff_tf.config import from_dict, load_yaml  # noqa: E402
from symdiff_tf.diffusion.config import DDPMConfig  # noqa: E402
from symdiff_tf.diffusion.inference import make_sampler  # noqa: E402
from symdiff_tf.diffusion.reverse import LatentSampler  # noqa: E402
from symdiff_tf.diffusion.schedulers import NAMES  # noqa: E402
from symdiff_tf.diffusion.task import DDPMTask  # noqa: E402
from symdiff_tf.paths import REPO_ROOT  # noqa: E402


def build_sampler(config_name: str, mode: str) -> LatentSampler:
    config = from_dict(DDPMConfig, load_yaml(REPO_ROOT / "configs" / f"{config_name}.yaml")["ddpm"], config_name)
    keras.utils.set_random_seed(0)
    return make_sampler(DDPMTask(config).model, config, jit_compile=mode == "xla")


def timed(sample, with_bar: bool, total_steps: int):
    """(seconds, samples) of one run, with a tqdm bar (written to a buffer) when `with_bar`."""
    began = time.perf_counter()
    if with_bar:
        with tqdm.tqdm(total=total_steps, file=io.StringIO(), unit="step") as bar:
            result = sample(lambda done, _total: bar.update(done - bar.n))
    else:
        result = sample(None)
    return time.perf_counter() - began, np.asarray(result)


def measure(config_name: str, method: str, args) -> dict:
    sampler = build_sampler(config_name, args.mode)
    total = sampler.num_diffusion_steps if method == "ddpm" else min(args.ddim_steps, sampler.num_diffusion_steps)
    seeds = np.arange(1, args.num + 1)

    def sample(progress):
        return sampler.sample(seeds, method, total, progress=progress)
    _, reference = timed(sample, False, total)  # traces the compiled functions
    _, barred = timed(sample, True, total)
    if not np.array_equal(reference, barred):
        raise AssertionError(f"{config_name} {method}: the samples differ with a progress bar")
    seconds = {False: [], True: []}
    for _ in range(args.repeats):
        for with_bar in (False, True):
            seconds[with_bar].append(timed(sample, with_bar, total)[0])
    plain, barred = statistics.median(seconds[False]), statistics.median(seconds[True])
    return {"config": config_name, "method": method, "steps": total, "plain_s": plain, "bar_s": barred,
            "ratio": barred / plain}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "cpu"])
    parser.add_argument("--methods", nargs="+", default=["ddpm", "ddim"], choices=NAMES)
    parser.add_argument("--num", type=int, default=16, help="windows per batch (symdiff sample's default)")
    parser.add_argument("--ddim-steps", type=int, default=50, help="steps of the other schedulers than ddpm")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mode", choices=("compiled", "xla"), default="compiled")
    args = parser.parse_args(argv)
    print(f"{'config':<6} {'method':<6} {'steps':>5} {'one call s':>10} {'with bar s':>10} {'ratio':>6}")
    for config_name in args.configs:
        for method in args.methods:
            row = measure(config_name, method, args)
            print(f"{row['config']:<6} {row['method']:<6} {row['steps']:>5} {row['plain_s']:>10.3f} "
                  f"{row['bar_s']:>10.3f} {row['ratio']:>6.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
