"""What `symdiff sample` and `symdiff infill` share: which model generates (the SavedModel bundle, the shipped
default model unless `--model` names another; or a run directory with `--vae`; or, for latents only, a run alone),
one set of generation options on every path, and writing the music.

Options (the same defaults on every path): `--scheduler` (default: the model's `sampling.method`), `--steps`
(default: that scheduler's: ddpm all N, ddim the model's `sampling.ddim_steps`, dpm-solver++ 20), `--eta` (ddim
only; default the model's `sampling.ddim_eta`), `--temperature` (the MusicVAE decoder's; default 0, greedy).
Each melody gets its own seed (`--seed S` gives seeds S, S+1, …), so melody i is the same whatever `--num` is and
whichever path made it. An option that a path cannot honour is an error.
"""
from __future__ import annotations

import contextlib
import pathlib

from symdiff_tf.paths import default_model_root

BUNDLE_BATCH = 4  # melodies per call of the bundle (a progress bar step)
FILE_SUFFIXES = {".mid", ".midi", ".png", ".wav", ".npy", ".npz", ".json"}  # what --out is not: a file we write
RUN_ONLY_OPTIONS = {"config": "--config", "overrides": "--set", "precision": "--precision", "xla": "--xla"}


def add_model_arguments(parser):
    """Which model generates: `--model`, or `--checkpoint` (+ `--vae`) with the run's own options."""
    parser.add_argument("--model", default=None, metavar="DIR",
                        help="SavedModel bundle of `symdiff export` (a version folder, or its parent: the highest "
                             "version); default: the shipped model")
    parser.add_argument("--checkpoint", default=None, metavar="RUN",
                        help="a run directory of `symdiff train` (its latest checkpoint), its checkpoints folder, a "
                             "checkpoint prefix, or an inference artifact folder RUN/inference/step_N, instead of a "
                             "bundle; with --vae: music, without: scaled latents (.npy)")
    parser.add_argument("--vae", default=None, metavar="FILE",
                        help="with --checkpoint RUN: the MusicVAE that encoded the run's data, to make music")
    parser.add_argument("--config", default=None,
                        help="with --checkpoint: a config with a ddpm: section (default: the run's own)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="with --checkpoint: override a config value (repeatable)")
    parser.add_argument("--precision", choices=("none", "bfloat16", "float16"), default="none",
                        help="with --checkpoint: mixed precision for the network (default none)")
    parser.add_argument("--xla", action="store_true", help="with --checkpoint: compile the sampler with XLA")


def add_generation_arguments(parser):
    """The generation options of every path (module docstring)."""
    from symdiff_tf.diffusion.schedulers import NAMES

    parser.add_argument("--scheduler", choices=NAMES, default=None,
                        help="reverse-process method (default: the model's sampling.method; the shipped model: "
                             "ddpm)")
    parser.add_argument("--steps", type=int, default=None, metavar="K",
                        help="diffusion steps, 1..N (default: the scheduler's: ddpm N=1000, ddim the model's "
                             "ddim_steps (50), dpm-solver++ 20)")
    parser.add_argument("--eta", type=float, default=None,
                        help="DDIM stochasticity, ddim only (default: the model's ddim_eta, 0)")
    parser.add_argument("--temperature", type=float, default=None,
                        help="MusicVAE decoder temperature (default 0: greedy); not for latents")
    parser.add_argument("--seed", type=int, default=42,
                        help="seed of the first melody (default 42); melody i uses seed S + i on every path")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def refuse(args, options: dict, why: str) -> None:
    """ValueError naming the first of `options` (attribute → flag) that `args` set away from its default."""
    for attribute, flag in options.items():
        value = getattr(args, attribute, None)
        if value not in (None, False, [], "none"):
            raise ValueError(f"{flag}: {why}")


def seeds_of(seed: int, count: int):
    """int32 `[count]`: seed, seed + 1, …"""
    import numpy as np

    if count < 1:
        raise ValueError(f"--num {count}: expected at least 1 melody")
    return np.arange(seed, seed + count, dtype=np.int32)


def model_dir(path) -> pathlib.Path:
    """The bundle folder of `--model` (None: the shipped default): a folder with `saved_model.pb`, or a parent of
    numbered versions (the highest is taken, as TF Serving does)."""
    folder = pathlib.Path(path) if path is not None else default_model_root()
    if (folder / "saved_model.pb").is_file():
        return folder
    versions = sorted((p for p in folder.glob("*") if p.name.isdigit() and (p / "saved_model.pb").is_file()),
                      key=lambda p: int(p.name)) if folder.is_dir() else []
    if versions:
        return versions[-1]
    hint = (" (the shipped default model is missing from this install)" if path is None else
            "; expected a SavedModel from `symdiff export` (a folder with saved_model.pb, or numbered versions)")
    raise ValueError(f"--model {folder}: no SavedModel bundle there{hint}")


class BundleModel:
    """Generation through a SavedModel bundle's signatures, exactly as a TF Serving client gets it: the command
    writes the bundle's own `midi_bytes`. `defaults`: its `SamplingDefaults` (from the config in its assets)."""

    def __init__(self, path):
        import tensorflow as tf
        import yaml

        from symdiff_tf.config import from_dict
        from symdiff_tf.diffusion.config import DDPMConfig
        from symdiff_tf.diffusion.reverse import SamplingDefaults
        from symdiff_tf.diffusion.schedule import LinearSchedule
        from symdiff_tf.export.bundle import CONFIG_FILENAME, SIGNATURES

        self.folder = model_dir(path)
        self.bundle = tf.saved_model.load(str(self.folder))
        missing = sorted(set(SIGNATURES) - set(self.bundle.signatures))
        if missing:
            raise ValueError(f"--model {self.folder}: a SavedModel without the signatures {missing} of a symdiff "
                             "bundle")
        ddpm = from_dict(DDPMConfig, yaml.safe_load(
            (self.folder / "assets" / CONFIG_FILENAME).read_text(encoding="utf-8"))["ddpm"])
        self.defaults = SamplingDefaults(LinearSchedule.from_config(ddpm.schedule), ddpm.sampling)
        if "scheduler" not in self.bundle.signatures["sample"].structured_input_signature[1]:
            raise ValueError(f"--model {self.folder}: a bundle of an older symdiff (no scheduler input); export it "
                             "again with `symdiff export`")
        infill_inputs = self.bundle.signatures["infill"].structured_input_signature[1]
        self.takes_resample = "resample" in infill_inputs
        self.takes_repeat_start = "repeat_start" in infill_inputs

    def describe(self) -> str:
        return str(self.folder)

    def options(self, scheduler=None, steps=None, eta=None, temperature=0.0, resample=None, repeat_start=None):
        from symdiff_tf.diffusion.repeat_start import check_repeat_start
        from symdiff_tf.generation.pipeline import resolve_options

        if not self.takes_resample:  # a bundle exported before RePaint's passes: the paper's replacement only
            if resample not in (None, 1):
                raise ValueError(f"--resample {resample}: the bundle {self.folder} infills with one pass per step "
                                 "(exported before resampling); export it again with `symdiff export`")
            resample = 1
        if not self.takes_repeat_start:  # exported before the repeat start: the gap from noise only
            if repeat_start is not None and check_repeat_start(repeat_start, "--repeat-start") < 1:
                raise ValueError(f"--repeat-start {repeat_start}: the bundle {self.folder} starts the regenerated "
                                 "bars from noise (exported before the repeat start); export it again with "
                                 "`symdiff export`")
            repeat_start = 1.0
        return resolve_options(self.defaults, scheduler, steps, eta, temperature, resample, repeat_start)

    def _call(self, signature: str, progress: str | None, batched: dict, fixed: dict, real_bars=None):
        """Runs `signature` over `batched` inputs in batches of `BUNDLE_BATCH`; a check that fails inside the
        bundle becomes a ValueError with its message."""
        import numpy as np
        import tensorflow as tf
        import tqdm

        total = len(next(iter(batched.values())))
        parts = []
        for begin in tqdm.trange(0, total, BUNDLE_BATCH, desc=progress, unit=f" batch of {BUNDLE_BATCH}",
                                 disable=progress is None):
            inputs = {name: tf.constant(value[begin:begin + BUNDLE_BATCH]) for name, value in batched.items()}
            try:
                outputs = self.bundle.signatures[signature](**inputs, **fixed)
            except tf.errors.InvalidArgumentError as err:
                raise ValueError(f"--model {self.folder}: {bundle_message(err)}") from None
            parts.append({key: value.numpy() for key, value in outputs.items()})
        values = {key: _concatenated([part[key] for part in parts]) for key in parts[0]}
        return melodies_from_outputs(values, None if real_bars is None else np.asarray(real_bars, bool))

    @staticmethod
    def _fixed(options) -> dict:
        import tensorflow as tf

        return {"scheduler": tf.constant(options.scheduler), "steps": tf.constant(options.steps, tf.int32),
                "eta": tf.constant(options.eta, tf.float32),
                "temperature": tf.constant(options.temperature, tf.float32)}

    def sample(self, seeds, options, progress: str | None = "sampling"):
        return self._call("sample", progress, {"seeds": seeds}, self._fixed(options))

    def infill(self, tokens, keep_bars, seeds, options, progress: str | None = "infilling"):
        import numpy as np
        import tensorflow as tf

        keep_bars = np.asarray(keep_bars, bool)
        fixed = self._fixed(options)
        if self.takes_resample:
            fixed["resample"] = tf.constant(options.resample, tf.int32)
        if self.takes_repeat_start:
            fixed["repeat_start"] = tf.constant(options.repeat_start, tf.float32)
        return self._call("infill", progress, {"tokens": np.asarray(tokens, np.int32), "mask": keep_bars,
                                                "seeds": seeds}, fixed, keep_bars)


def _concatenated(parts):
    """Batches of one output, concatenated; padded note arrays `[b, M_i]` padded to the widest first."""
    import numpy as np

    if parts[0].ndim == 2 and parts[0].dtype != object and len({p.shape[1] for p in parts}) > 1:
        width = max(p.shape[1] for p in parts)
        parts = [np.pad(p, ((0, 0), (0, width - p.shape[1]))) for p in parts]
    return np.concatenate(parts)


def bundle_message(err) -> str:
    """The one line of a failed check inside the bundle (`symdiff_tf.export.checks`), from TensorFlow's error."""
    import re

    text = getattr(err, "message", str(err)).replace("\\'", "'")  # TensorFlow escapes quotes in the message
    found = re.search(r"assertion failed: \[(.*?)\](?: \[(.*?)\])?", text, re.S)
    if not found:
        return text.strip().splitlines()[0]
    return " ".join(part.strip() for part in found.groups() if part)


def open_music_model(args):
    """The model that makes music for `args`: a `BundleModel` (`--model` or the shipped default) or a `Pipeline`
    over `--checkpoint` + `--vae`; options of the other path are refused."""
    if args.checkpoint is None:
        refuse(args, {"vae": "--vae"}, "only with --checkpoint RUN (a bundle holds its own MusicVAE)")
        refuse(args, RUN_ONLY_OPTIONS, "only with --checkpoint RUN (a bundle's network is fixed when exported)")
        return BundleModel(args.model)
    if args.model is not None:
        raise ValueError("--model and --checkpoint: give one (a bundle, or a run directory)")
    from symdiff_tf import musicvae
    from symdiff_tf.generation.pipeline import Pipeline

    return Pipeline(open_run_from_args(args), musicvae.load(args.vae))


def open_run_from_args(args, with_scaler: bool = True):
    """The `DiffusionModel` of `--checkpoint` with `--config`, `--set`, `--precision`, `--xla` (without its latent
    scaling for latents in and out: `with_scaler=False`)."""
    from symdiff_tf.diffusion.inference import open_run

    return open_run(args.checkpoint, args.config, args.overrides, args.precision, jit_compile=args.xla,
                    with_scaler=with_scaler)


def options_from_args(args, model):
    """The checked `GenerationOptions` of `args` for `model`: a `BundleModel` or `Pipeline` (their `options`), or
    for latents alone a `LatentSampler` (its own defaults)."""
    from symdiff_tf.generation.pipeline import resolve_options

    temperature = 0.0 if args.temperature is None else args.temperature
    resample = getattr(args, "resample", None)  # only the infilling commands have --resample, --repeat-start
    repeat_start = getattr(args, "repeat_start", None)
    if hasattr(model, "options"):
        return model.options(args.scheduler, args.steps, args.eta, temperature, resample, repeat_start)
    return resolve_options(model, args.scheduler, args.steps, args.eta, temperature, resample, repeat_start)


@contextlib.contextmanager
def step_progress(args, label: str, total_steps: int):
    """Yields the latent sampler's `progress` callback: a bar over `total_steps` diffusion steps; None with
    `--no-progress` (the sampler then runs its loop in one call)."""
    if args.no_progress:
        yield None
        return
    import tqdm

    with tqdm.tqdm(total=total_steps, desc=label, unit="step") as bar:

        def progress(done, total):
            bar.total = total  # fewer than total_steps when the repeat start skips the first ones
            bar.update(done - bar.n)

        yield progress


def melodies_from_outputs(values: dict, real_bars=None):
    """`generation.Melodies` from a bundle signature's outputs (numpy), with its `midi_bytes`."""
    from symdiff_tf.generation.pipeline import Melodies

    return Melodies.from_notes(values["tokens"], values["pitches"], values["starts"], values["ends"],
                               values["num_notes"], real_bars, values["midi_bytes"])


def output_folder(out, holds: str = "the MIDI and PNG files") -> pathlib.Path:
    """`--out` as a folder path, refused in one line when it names a file: an existing file, or a name ending like
    the files written into it (`song.mid`); a dot elsewhere (`runs/s0.25`) is a folder name like any other."""
    out = pathlib.Path(out)
    if out.is_file() or out.suffix.lower() in FILE_SUFFIXES:
        raise ValueError(f"--out {out}: expected a folder for {holds}")
    return out


def write_music(melodies, out, prefix: str, first_seed: int, what: str, next_hint: str) -> None:
    """Writes PREFIX_SEED.mid / .png per melody and one grid PNG into `out`, then says what it wrote and what next."""
    out = output_folder(out)
    names = [f"{prefix}_{first_seed + i:04d}" for i in range(len(melodies))]
    written = melodies.write(out, names, grid=f"{prefix}_grid.png")
    print(f"wrote {len(names)} {what} to {out}/: {names[0]}.mid/.png … {names[-1]}.mid/.png and "
          f"{prefix}_grid.png ({len(written)} files)")
    print(f"next: {next_hint}")


def add_audio_argument(parser):
    """`--audio`: a WAV beside every MIDI file written (`symdiff_tf.melody.audio`)."""
    parser.add_argument("--audio", action="store_true",
                        help="also write a WAV file per MIDI file (a built-in piano synthesiser, no system program)")


def write_audio(args, midi_paths) -> list[pathlib.Path]:
    """With `--audio`: NAME.wav beside each NAME.mid of `midi_paths`; returns the WAV paths (none without it)."""
    if not args.audio:
        return []
    import tqdm

    from symdiff_tf.melody.audio import write_wav

    return [write_wav(path, pathlib.Path(path).with_suffix(".wav"))
            for path in tqdm.tqdm(midi_paths, desc="audio", unit="file", disable=args.no_progress)]


def model_callables(model, options):
    """(infill_windows, sample_windows): `model` (a `BundleModel` or `Pipeline`) as the two callables of
    `symdiff_tf.melody.long_form`, which runs windows one after another: tokens int32 `[B, 32, 32]` out."""
    def infill_windows(tokens, keep_bars, seeds):
        return model.infill(tokens, keep_bars, seeds, options, progress=None).tokens

    def sample_windows(seeds):
        return model.sample(seeds, options, progress=None).tokens

    return infill_windows, sample_windows
