"""`symdiff sample --checkpoint RUN --num N --out FILE.npy [--config FILE]`: unconditional latent windows."""
import contextlib
import pathlib


def add_sampling_arguments(parser):
    """Arguments shared by `sample` and `infill`."""
    parser.add_argument("--checkpoint", required=True, metavar="RUN",
                        help="run directory of `symdiff train` (its latest checkpoint), its checkpoints folder, a "
                             "checkpoint prefix, or an inference artifact folder RUN/inference/step_N")
    parser.add_argument("--config", default=None,
                        help="YAML config file with a ddpm: section (default: the config the run was trained with)")
    parser.add_argument("--out", required=True, help="output .npy of scaled latents [N, 32, k]")
    parser.add_argument("--seed", type=int, default=42, help="sampling seed (default 42, as the original)")
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
        "sample", help="sample latent windows from a trained diffusion model (DDPM or DDIM)",
        description="Writes N scaled latent windows [N, 32, k] as .npy (decode them with the VAE).")
    add_sampling_arguments(parser)
    parser.add_argument("--num", type=int, default=16, help="number of windows (one batch)")
    parser.add_argument("--method", choices=("ddpm", "ddim"), default=None, help="default from config")
    parser.add_argument("--steps", type=int, default=None, help="DDIM steps (default from config)")
    parser.add_argument("--eta", type=float, default=None, help="DDIM eta (default from config)")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.num < 1:
        raise ValueError(f"--num {args.num}: expected at least 1 window")
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
    return 0
