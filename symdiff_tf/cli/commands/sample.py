"""`symdiff sample [--model DIR] --num N --seed S --out OUT [--steps K] [--temperature T]`: melodies as MIDI and
piano rolls from the SavedModel bundle (the shipped default model unless `--model` names another).

The research path: `symdiff sample --checkpoint RUN --out FILE.npy` writes scaled latent windows; with `--vae FILE`
and a folder as `--out` it also decodes them into MIDI and piano rolls (`symdiff_tf.generation`)."""
import contextlib
import pathlib

from symdiff_tf.cli.commands.bundle_io import (
    add_music_arguments,
    bundle_ddpm_config,
    bundle_steps,
    melodies_from_outputs,
    open_bundle,
    seeds_of,
    write_music,
)


def add_sampling_arguments(parser):
    """Arguments shared by `sample` and `infill`."""
    parser.add_argument("--checkpoint", default=None, metavar="RUN",
                        help="research path: a run directory of `symdiff train` (its latest checkpoint), its "
                             "checkpoints folder, a checkpoint prefix, or an inference artifact folder "
                             "RUN/inference/step_N, instead of a bundle")
    parser.add_argument("--config", default=None,
                        help="YAML config file with a ddpm: section (default: the config the run was trained with)")
    parser.add_argument("--out", required=True,
                        help="output folder of MIDI and PNG files; with --checkpoint and no --vae, an .npy of "
                             "scaled latents [N, 32, k]")
    parser.add_argument("--seed", type=int, default=42,
                        help="sampling seed (default 42, as the original); with MIDI out, melody i uses seed S + i")
    parser.add_argument("--ddpm-form", choices=("original", "paper"), default=None,
                        help="original: x0 clipped, posterior mean (default from config); paper: Algorithm 3")
    parser.add_argument("--variance", choices=("beta_tilde", "beta"), default="beta_tilde",
                        help="sigma_t^2 of the DDPM step (default beta_tilde, as the original)")
    parser.add_argument("--precision", choices=("none", "bfloat16", "float16"), default="none",
                        help="mixed precision for the network")
    parser.add_argument("--xla", action="store_true", help="compile the sampler with XLA")
    parser.add_argument("--intermediates", type=int, default=0, metavar="K",
                        help="also write K intermediate states to OUT with suffix .states.npy")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a config value (repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar over the diffusion steps")


def check_out(out) -> pathlib.Path:
    """`--out` as a path: a `.npy` file name that is not a folder (checked before minutes of sampling)."""
    out = pathlib.Path(out)
    if out.suffix != ".npy" or out.is_dir():
        raise ValueError(f"--out {out}: expected a .npy file name to write the latents to")
    return out


def load_sampler_from_args(args):
    """(trained, sampler) for the arguments of `add_sampling_arguments`. A run that cannot be read (no checkpoint
    or artifact in it) or a config that disagrees with its weights raises a one-line error naming it."""
    from symdiff_tf.diffusion.inference import load_sampler

    return load_sampler(args.config, args.checkpoint, args.overrides, args.precision,
                        "xla" if args.xla else "compiled")


@contextlib.contextmanager
def step_progress(args, method: str, total_steps: int):
    """Yields the sampler's `progress` callback: a bar over the `total_steps` diffusion steps of `method`, shown
    from before the sampler is traced; None with `--no-progress` (the sampler then runs its loop in one call)."""
    if args.no_progress:
        yield None
        return
    import tqdm

    with tqdm.tqdm(total=total_steps, desc=f"{args.command} ({method})", unit="step") as bar:
        yield lambda done, _total: bar.update(done - bar.n)


def check_steps(option: str, steps: int, sampler) -> int:
    """`steps` DDIM steps of `option`, within 1..N of the model's schedule."""
    if not 1 <= steps <= sampler.schedule.num_steps:
        raise ValueError(f"{option} {steps}: DDIM takes 1..{sampler.schedule.num_steps} steps (the model's "
                         "schedule.num_steps)")
    return steps


def check_intermediates(count: int, total_steps: int) -> int:
    """`--intermediates K`: 0 (none) up to one state per step."""
    if not 0 <= count <= total_steps:
        raise ValueError(f"--intermediates {count}: expected 0..{total_steps} (one state per step at most)")
    return count


def write_result(result, out: pathlib.Path, intermediates) -> None:
    import numpy as np

    out.parent.mkdir(parents=True, exist_ok=True)
    samples, states = (result if intermediates else (result, None))
    np.save(out, np.asarray(samples))
    if states is not None:
        np.save(out.with_suffix(".states.npy"), np.asarray(states))
    print(f"wrote {out} {tuple(np.shape(samples))}")


def register(subparsers):
    parser = subparsers.add_parser(
        "sample", help="generate melodies (MIDI and piano rolls) or latent windows with the diffusion model",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    add_sampling_arguments(parser)
    add_music_arguments(parser, with_num=False)
    parser.add_argument("--num", type=int, default=8, help="number of melodies or windows (default 8)")
    parser.add_argument("--method", choices=("ddpm", "ddim"), default=None,
                        help="research path: sampler (default from config)")
    parser.add_argument("--steps", type=int, default=None,
                        help="diffusion steps: the model's N (1000) runs the paper's DDPM sampler, fewer run DDIM "
                             "(default: the config's ddim_steps)")
    parser.add_argument("--eta", type=float, default=None, help="DDIM eta (default from config)")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.num < 1:
        raise ValueError(f"--num {args.num}: expected at least 1 melody")
    if args.checkpoint is None:
        return _run_bundle(args)
    if args.model is not None:
        raise ValueError("--model and --checkpoint: give one (a bundle, or a run directory)")
    if args.vae is not None:
        return _run_generator(args)
    return _run_latents(args)


def _run_bundle(args) -> int:
    import tensorflow as tf
    import tqdm

    bundle, folder = open_bundle(args.model)
    ddpm_config = bundle_ddpm_config(folder)
    steps = bundle_steps(args.steps, ddpm_config)
    seeds = seeds_of(args.seed, args.num)
    method = "DDPM" if steps == int(ddpm_config["schedule"]["num_steps"]) else f"DDIM, {steps} steps"
    print(f"sampling {args.num} melodies of 64 bars with {folder} ({method})", flush=True)
    melodies = []
    for begin in tqdm.trange(0, len(seeds), 4, desc="sample", unit=" batch of 4", disable=args.no_progress):
        outputs = bundle.signatures["sample"](seeds=tf.constant(seeds[begin:begin + 4]), steps=tf.constant(steps),
                                              temperature=tf.constant(args.temperature, tf.float32))
        melodies.append(melodies_from_outputs(outputs))
    write_music(_concatenated(melodies), args.out, "sample", args.seed, "melodies",
                f"listen to the .mid files, or regenerate bars of a song: symdiff infill SONG.mid --bars 17-48 "
                f"--track MELODY --out {args.out}/infill")
    return 0


def _concatenated(parts):
    import dataclasses

    import numpy as np

    first = parts[0]
    return dataclasses.replace(first, **{field: np.concatenate([getattr(p, field) for p in parts])
                                         for field in ("tokens", "joined", "real_bars")})


def _run_generator(args) -> int:
    from symdiff_tf.generation.generator import Generator

    generator = Generator.from_files(args.vae, args.checkpoint)
    melodies = generator.sample(seeds_of(args.seed, args.num), steps=args.steps, temperature=args.temperature,
                                progress=None if args.no_progress else "sampling")
    write_music(melodies, args.out, "sample", args.seed, "melodies",
                f"the same model as one SavedModel: symdiff export --vae {args.vae} --diffusion {args.checkpoint} "
                "--out bundles/mine/1")
    return 0


def _run_latents(args) -> int:
    out = check_out(args.out)
    trained, sampler = load_sampler_from_args(args)
    sampling = trained.config.sampling
    method = args.method or sampling.method
    if method == "ddim":
        steps = check_steps("--steps", sampling.ddim_steps if args.steps is None else args.steps, sampler)
        check_intermediates(args.intermediates, steps)
        with step_progress(args, method, steps) as progress:
            result = sampler.ddim(args.num, args.seed, num_steps=steps,
                                  eta=sampling.ddim_eta if args.eta is None else args.eta,
                                  num_intermediates=args.intermediates, progress=progress)
    else:
        check_intermediates(args.intermediates, sampler.schedule.num_steps)
        with step_progress(args, method, sampler.schedule.num_steps) as progress:
            result = sampler.ddpm(args.num, args.seed, ddpm_form=args.ddpm_form or sampling.ddpm_form,
                                  variance=args.variance, num_intermediates=args.intermediates, progress=progress)
    write_result(result, out, args.intermediates)
    print("next: decode them into MIDI with the same command plus --vae VAE.keras and a folder as --out")
    return 0
