"""Speed of the SavedModel bundle's `sample` against the library's compiled path, on the same model and seeds.

One run builds a diffusion network and a MusicVAE (random weights: speed does not depend on them), a run
directory for them, and exports the bundle (`symdiff_tf.export.bundle.export_bundle`); then, alternating, it
times for the same seeds and step count:
- library: `DiffusionSampler` (compiled `tf.function`, one seed for the batch) → `LatentScaler.inverse` → the
  compiled greedy `MusicVAE.decode` → `render.tokens_to_midi` per melody: the path `symdiff evaluate` takes;
- generator: `symdiff_tf.generation.Generator.sample` (one seed per melody; MIDI files by `Melodies.midi`);
- bundle: `tf.saved_model.load(...).signatures["sample"]` (one seed per melody; notes and MIDI files in the graph).
It prints the median seconds of each and the ratios bundle / library and bundle / generator (target: within
1.15x). The machine is shared: read the ratios, which are measured side by side.

    .venv/bin/python benchmarks/bundle_speed.py                       # cpu.yaml network, cat-mel_2bar_small
    .venv/bin/python benchmarks/bundle_speed.py --steps 1000 --repeats 2   # ancestral DDPM over all steps
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
from symdiff_tf.diffusion.model import TransformerDDPM  # noqa: E402
from symdiff_tf.export.bundle import export_bundle  # noqa: E402
from symdiff_tf.generation.generator import Generator  # noqa: E402
from symdiff_tf.generation.run import load_run  # noqa: E402
from symdiff_tf.melody.render import tokens_to_midi  # noqa: E402
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


def library_path(run, vae, seeds, steps):
    """The library's compiled path: scaled latents for the batch, decoded greedily, one MIDI file per melody."""
    sampler, sampling = run.sampler, run.config.sampling
    if steps == sampler.schedule.num_steps:
        scaled = sampler.ddpm(len(seeds), int(seeds[0]), ddpm_form=sampling.ddpm_form)
    else:
        scaled = sampler.ddim(len(seeds), int(seeds[0]), num_steps=steps, eta=sampling.ddim_eta)
    full = run.scaler.inverse(np.asarray(scaled), fill=run.latents.fill, seed=int(seeds[0]))
    tokens = vae.decode(full.reshape(-1, vae.z_size), temperature=0.0).reshape(len(seeds), -1, 32)
    return [tokens_to_midi(melody) for melody in tokens]


def generator_path(generator, seeds, steps):
    melodies = generator.sample(seeds, steps=steps, progress=None)
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
    parser.add_argument("--steps", type=int, default=50, help="sampling steps: N runs DDPM, fewer DDIM")
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
        run = load_run(run_path)
        generator = Generator(vae, run, batch_size=args.batch)
        sample = tf.saved_model.load(str(bundle_dir)).signatures["sample"]
        inputs = {"seeds": tf.constant(seeds), "steps": tf.constant(args.steps, tf.int32),
                  "temperature": tf.constant(0.0)}
        paths = {
            "library": lambda: library_path(run, vae, seeds, args.steps),
            "generator": lambda: generator_path(generator, seeds, args.steps),
            "bundle": lambda: [bytes(data) for data in sample(**inputs)["midi_bytes"].numpy()],
        }
        for name, path in paths.items():
            print(f"first call ({name}, traces): {timed(path):.1f} s")
        times = {name: [] for name in paths}
        for _ in range(args.repeats):
            for name, path in paths.items():
                times[name].append(timed(path))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"network {args.config}, MusicVAE {args.vae}, batch {args.batch}, {args.steps} steps, "
          f"{args.repeats} repeats (median s): " + ", ".join(f"{name} {value:.3f}" for name, value in median.items()))
    for reference in ("library", "generator"):
        per_repeat = [b / r for b, r in zip(times["bundle"], times[reference])]
        print(f"bundle / {reference}: {median['bundle'] / median[reference]:.3f} (per repeat "
              f"{min(per_repeat):.3f}..{max(per_repeat):.3f})")


if __name__ == "__main__":
    main()
