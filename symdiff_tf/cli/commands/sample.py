"""`symdiff sample [--model DIR | --checkpoint RUN --vae FILE] [--scheduler NAME] [--steps K] --num N --seed S
--out OUT`: melodies as MIDI and piano rolls from the SavedModel bundle (the shipped default model unless `--model`
names another), or from a run and its MusicVAE.

The research path: `symdiff sample --checkpoint RUN --out FILE.npy` writes scaled latent windows `[N, 32, k]`
(with `--intermediates K`, also K states along the reverse process)."""
import pathlib

from symdiff_tf.cli.commands.generating import (
    add_generation_arguments,
    add_model_arguments,
    open_music_model,
    open_run_from_args,
    options_from_args,
    refuse,
    seeds_of,
    step_progress,
    write_music,
)


def add_latent_arguments(parser):
    """Options of the research path (latents in and out, `--checkpoint RUN` without `--vae`)."""
    parser.add_argument("--intermediates", type=int, default=0, metavar="K",
                        help="latents only: also write K intermediate states to OUT with suffix .states.npy")


def check_npy_out(out) -> pathlib.Path:
    """`--out` as a path: a `.npy` file name that is not a folder (checked before minutes of sampling)."""
    out = pathlib.Path(out)
    if out.suffix != ".npy" or out.is_dir():
        raise ValueError(f"--out {out}: expected a .npy file name to write the latents to")
    return out


def check_intermediates(count: int, total_steps: int) -> int:
    """`--intermediates K`: 0 (none) up to one state per step."""
    if not 0 <= count <= total_steps:
        raise ValueError(f"--intermediates {count}: expected 0..{total_steps} (one state per step at most)")
    return count


def write_latents(result, out: pathlib.Path, intermediates) -> None:
    """Writes the scaled latents (and the intermediate states) as `.npy` and says so."""
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
    add_model_arguments(parser)
    add_generation_arguments(parser)
    parser.add_argument("--num", type=int, default=8, help="number of melodies or windows (default 8)")
    parser.add_argument("--out", required=True,
                        help="output folder of MIDI and PNG files; with --checkpoint and no --vae, an .npy of "
                             "scaled latents [N, 32, k]")
    add_latent_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    seeds = seeds_of(args.seed, args.num)
    if args.checkpoint is not None and args.vae is None:
        return _run_latents(args, seeds)
    refuse(args, {"intermediates": "--intermediates"}, "only for latents (--checkpoint RUN without --vae)")
    model = open_music_model(args)
    options = options_from_args(args, model)
    print(f"sampling {args.num} melodies of 64 bars with {getattr(model, 'describe', lambda: args.checkpoint)()} "
          f"({options.describe()})", flush=True)
    melodies = model.sample(seeds, options, progress=None if args.no_progress else "sampling")
    write_music(melodies, args.out, "sample", args.seed, "melodies",
                f"listen to the .mid files, or regenerate bars of a song: symdiff infill SONG.mid --bars 17-48 "
                f"--track MELODY --out {args.out}/infill")
    return 0


def _run_latents(args, seeds) -> int:
    out = check_npy_out(args.out)
    refuse(args, {"temperature": "--temperature"}, "the decoder's, for music (add --vae FILE); latents are not "
                                                   "decoded")
    if args.model is not None:
        raise ValueError("--model and --checkpoint: give one (a bundle, or a run directory)")
    sampler = open_run_from_args(args).sampler
    options = options_from_args(args, sampler)
    check_intermediates(args.intermediates, options.steps)
    with step_progress(args, f"sample ({options.scheduler})", options.steps) as progress:
        result = sampler.sample(seeds, options.scheduler, options.steps, options.scheduler_eta,
                                num_intermediates=args.intermediates, progress=progress)
    write_latents(result, out, args.intermediates)
    print("next: music from the same run: the same command plus --vae VAE.keras and a folder as --out")
    return 0
