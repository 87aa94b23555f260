"""`symdiff sample --checkpoint RUN --num N --out FILE.npy [--config FILE]`: unconditional latent windows."""
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


def load_sampler_from_args(args):
    """(trained, sampler) for the arguments of `add_sampling_arguments`; a run that cannot be read, or a config
    that disagrees with its weights, exits with one line."""
    from symdiff_tf.config import ConfigError
    from symdiff_tf.diffusion.inference import load_sampler

    try:
        return load_sampler(args.config, args.checkpoint, args.overrides, args.precision,
                            "xla" if args.xla else "compiled")
    except (ConfigError, FileNotFoundError) as err:
        raise SystemExit(f"symdiff {args.command}: {err}") from err


def write_result(result, out, intermediates) -> None:
    import numpy as np

    out = pathlib.Path(out)
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
    trained, sampler = load_sampler_from_args(args)
    sampling = trained.config.sampling
    method = args.method or sampling.method
    if method == "ddim":
        result = sampler.ddim(args.num, args.seed, num_steps=args.steps or sampling.ddim_steps,
                              eta=sampling.ddim_eta if args.eta is None else args.eta,
                              num_intermediates=args.intermediates)
    else:
        result = sampler.ddpm(args.num, args.seed, ddpm_form=args.ddpm_form or sampling.ddpm_form,
                              variance=args.variance, num_intermediates=args.intermediates)
    write_result(result, args.out, args.intermediates)
    return 0
