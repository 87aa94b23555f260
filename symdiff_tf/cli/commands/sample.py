"""`symdiff sample [--model DIR | --checkpoint RUN --vae FILE] [--scheduler NAME] [--steps K] [--bars N] --num K
--seed S --out OUT`: melodies as MIDI and piano rolls from the SavedModel bundle (the shipped default model unless
`--model` names another), or from a run and its MusicVAE. Melodies of other lengths than the model's 64 bars
(`--bars N`) are made window by window, each window conditioned on the bars already there
(`symdiff_tf.melody.long_form`).

The research path: `symdiff sample --checkpoint RUN --out FILE.npy` writes scaled latent windows `[N, 32, k]`
(with `--intermediates K`, also K states along the reverse process)."""
import pathlib

from symdiff_tf.cli.commands.generating import (
    add_audio_argument,
    add_generation_arguments,
    add_model_arguments,
    model_callables,
    open_music_model,
    open_run_from_args,
    options_from_args,
    output_folder,
    refuse,
    seeds_of,
    step_progress,
    write_audio,
    write_music,
)

MODEL_BARS = 64  # the model's window


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
    parser.add_argument("--bars", type=int, default=MODEL_BARS, metavar="N",
                        help=f"bars per melody (default {MODEL_BARS}, one window of the model; more are made window "
                             "by window)")
    add_audio_argument(parser)
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
    if args.bars < 1:
        raise ValueError(f"--bars {args.bars}: expected at least 1 bar")
    model = open_music_model(args)
    options = options_from_args(args, model)
    print(f"sampling {args.num} melodies of {args.bars} bars with "
          f"{model.describe()} ({options.describe()})", flush=True)
    hint = (f"listen to the .mid files, or regenerate bars of a song: symdiff infill SONG.mid --bars 17-48 "
            f"--track MELODY --out {args.out}/infill")
    if args.bars == MODEL_BARS:
        melodies = model.sample(seeds, options, progress=None if args.no_progress else "sampling")
        write_music(melodies, args.out, "sample", args.seed, "melodies", hint)
        midi_paths = [pathlib.Path(args.out) / f"sample_{seed:04d}.mid" for seed in seeds.tolist()]
    else:
        midi_paths = _write_long(args, seeds, *model_callables(model, options))
        print(f"next: {hint}")
    write_audio(args, midi_paths)
    return 0


def _write_long(args, seeds, infill_windows, sample_windows) -> list[pathlib.Path]:
    """Melodies of `--bars N` made window by window; writes sample_SEED.mid / .png per melody and a grid PNG;
    returns the MIDI paths."""
    import numpy as np

    from symdiff_tf.melody.long_form import plan_windows, run_windows
    from symdiff_tf.melody.pianoroll import save_pianoroll, save_pianoroll_grid
    from symdiff_tf.melody.render import tokens_to_midi

    out = output_folder(args.out)
    windows = plan_windows(0, max(args.bars, MODEL_BARS) - 1, known_after=0)
    print(f"{len(windows)} window{'s' if len(windows) > 1 else ''} of {MODEL_BARS} bars: "
          + ", ".join(f"bars {w.start + 1}-{w.start + MODEL_BARS} (new {w.first + 1}-{w.last + 1})" for w in windows))
    steps = run_windows(windows, np.zeros((len(seeds), 0, 16), np.int32), seeds, infill_windows, sample_windows,
                        progress=None if args.no_progress else "sampling")[:, :args.bars]
    padded = np.zeros((len(seeds), -(-args.bars // 2) * 2, 16), np.int32)  # whole 2-bar chunks
    padded[:, :args.bars] = steps
    tokens = padded.reshape(len(seeds), -1, 32)
    out.mkdir(parents=True, exist_ok=True)
    names = [f"sample_{seed:04d}" for seed in seeds.tolist()]
    for name, melody in zip(names, tokens):
        tokens_to_midi(melody, out / f"{name}.mid", continuous=True)
        save_pianoroll(out / f"{name}.png", melody, title=f"{name}: {args.bars} bars", continuous=True)
    save_pianoroll_grid(out / "sample_grid.png", list(tokens), titles=names, columns=1, continuous=True)
    print(f"wrote {len(names)} melodies of {args.bars} bars to {out}/: {names[0]}.mid/.png … {names[-1]}.mid/.png "
          "and sample_grid.png")
    return [out / f"{name}.mid" for name in names]


def _run_latents(args, seeds) -> int:
    out = check_npy_out(args.out)
    refuse(args, {"temperature": "--temperature"}, "the decoder's, for music (add --vae FILE); latents are not "
                                                   "decoded")
    if args.model is not None:
        raise ValueError("--model and --checkpoint: give one (a bundle, or a run directory)")
    sampler = open_run_from_args(args, with_scaler=False).sampler
    options = options_from_args(args, sampler)
    check_intermediates(args.intermediates, options.steps)
    with step_progress(args, f"sample ({options.scheduler})", options.steps) as progress:
        result = sampler.sample(seeds, options.scheduler, options.steps, options.scheduler_eta,
                                num_intermediates=args.intermediates, progress=progress)
    write_latents(result, out, args.intermediates)
    print("next: music from the same run: the same command plus --vae VAE.keras and a folder as --out")
    return 0
