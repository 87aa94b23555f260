"""Speed of the SavedModel bundle's `sample` against the library's pipeline, on the same model, seeds and
scheduler.

One run builds a diffusion network and a MusicVAE (random weights: speed does not depend on them), a run
directory for them, and exports the bundle (`symdiff_tf.export.bundle.export_bundle`); then, alternating, it
times for the same seeds, scheduler and step count:
- pipeline: `symdiff_tf.generation.Pipeline.sample` (compiled; MIDI files by `Melodies.midi`);
- bundle: `tf.saved_model.load(...).signatures["sample"]` (the same graph; notes and MIDI files in the graph).
It prints the median seconds of each and the ratio bundle / pipeline (target: within 1.15x). The machine is
shared: read the ratio, which is measured side by side.

    .venv/bin/python benchmarks/bundle_speed.py                       # cpu.yaml network, cat-mel_2bar_small
    .venv/bin/python benchmarks/bundle_speed.py --scheduler ddpm --steps 1000 --repeats 2
    .venv/bin/python benchmarks/bundle_speed.py --config configs/paper.yaml --vae cat-mel_2bar_big
"""
import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from symdiff_tf import musicvae  # noqa: E402
from symdiff_tf.config import load_section, to_dict  # noqa: E402
from symdiff_tf.data.scaler import LatentScaler  # noqa: E402
from symdiff_tf.diffusion.config import DDPMConfig  # noqa: E402
from symdiff_tf.diffusion.inference import open_run  # noqa: E402
from symdiff_tf.diffusion.model import TransformerDDPM  # noqa: E402
from symdiff_tf.diffusion.schedulers import NAMES  # noqa: E402
from symdiff_tf.export.bundle import export_bundle  # noqa: E402
from symdiff_tf.generation.pipeline import Pipeline  # noqa: E402
from symdiff_tf.models_common import run_dir  # noqa: E402
from symdiff_tf.paths import REPO_ROOT  # noqa: E402


def make_run(folder: pathlib.Path, config_file, vae) -> pathlib.Path:
    """A run directory holding a randomly initialised network of `config_file`'s ddpm: section, as `symdiff
    train` lays one out (config, inference artifact, latent scaling over evenly spread kept dims)."""
    config = load_section(DDPMConfig, config_file, "ddpm")
    network = TransformerDDPM.from_config_dataclass(config.model, name="ddpm")
    run = folder / "run"
    run_dir.write_config(run, {"ddpm": to_dict(config), "data": "random weights (benchmarks/bundle_speed.py)"})
    run_dir.write_artifact(run, 0, network, {"model": "ddpm", "ema": False, "vae_content_hash": None})
    kept = np.linspace(0, vae.z_size - 1, config.model.latent_dim).round().astype(int)
    LatentScaler(tuple(kept.tolist()), vae.z_size, -3.0, 3.0).save(run)
    return run


def pipeline_path(pipeline, seeds, options):
    melodies = pipeline.sample(seeds, options, progress=None)
    return [melodies.midi(index) for index in range(len(melodies))]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO_ROOT / "configs" / "cpu.yaml"), help="config with a ddpm: section")
    parser.add_argument("--vae", default="cat-mel_2bar_small", help="MusicVAE config name")
    parser.add_argument("--batch", type=int, default=8, help="melodies (seeds) per call")
    parser.add_argument("--scheduler", choices=NAMES, default="ddim")
    parser.add_argument("--steps", type=int, default=50, help="sampling steps")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    vae = musicvae.build_model(args.vae)
    seeds = np.arange(100, 100 + args.batch, dtype=np.int32)
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        run_path = make_run(folder, args.config, vae)
        start = time.perf_counter()
        bundle_dir = export_bundle(vae, run_path, folder / "bundle" / "symdiff" / "1")
        print(f"export: {time.perf_counter() - start:.1f} s")
        pipeline = Pipeline(open_run(run_path), vae, batch_size=args.batch)
        options = pipeline.options(scheduler=args.scheduler, steps=args.steps)
        sample = tf.saved_model.load(str(bundle_dir)).signatures["sample"]
        inputs = {"seeds": tf.constant(seeds), "scheduler": tf.constant(options.scheduler),
                  "steps": tf.constant(options.steps, tf.int32), "eta": tf.constant(options.eta),
                  "temperature": tf.constant(0.0)}
        paths = {
            "pipeline": lambda: pipeline_path(pipeline, seeds, options),
            "bundle": lambda: [bytes(data) for data in sample(**inputs)["midi_bytes"].numpy()],
        }
        for name, path in paths.items():
            print(f"first call ({name}, traces): {timed(path):.1f} s")
        times = {name: [] for name in paths}
        for _ in range(args.repeats):
            for name, path in paths.items():
                times[name].append(timed(path))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"network {args.config}, MusicVAE {args.vae}, batch {args.batch}, {options.describe()}, "
          f"{args.repeats} repeats (median s): " + ", ".join(f"{name} {value:.3f}" for name, value in median.items()))
    per_repeat = [b / r for b, r in zip(times["bundle"], times["pipeline"])]
    print(f"bundle / pipeline: {median['bundle'] / median['pipeline']:.3f} (per repeat "
          f"{min(per_repeat):.3f}..{max(per_repeat):.3f})")


if __name__ == "__main__":
    main()
