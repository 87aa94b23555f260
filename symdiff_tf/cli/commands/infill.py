"""`symdiff infill SONG.mid --bars A-B [--track NAME] [--model DIR | --checkpoint RUN --vae FILE] --out DIR`:
regenerates bars A to B of a song with the SavedModel bundle (default: the shipped model) or a run and its
MusicVAE, and writes the song back: the same file with the melody's notes in those bars replaced, every other
track, the tempo map, the meters and the melody's other bars as they were. Bars are the song's own (numbered from 1
by its time signatures, as a MIDI editor shows them); bars past the song's end continue it; spans longer than the
model's 64 bars are regenerated window by window (`symdiff_tf.generation.song`).

The research path: `symdiff infill --checkpoint RUN --template FILE.npy --keep 0-7,24-31 --out FILE.npy` infills
scaled latent windows."""
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
)
from symdiff_tf.cli.commands.sample import add_latent_arguments, check_intermediates, check_npy_out, write_latents

TEMPLATE_ONLY = {"original_start": "--original-start", "template_at_current_step": "--template-at-current-step",
                 "intermediates": "--intermediates"}


def parse_chunks(text: str, sequence_length: int = 32) -> list[int]:
    """'0-7,24-31' → [0, ..., 7, 24, ..., 31] (0-based chunk indices, ranges inclusive)."""
    chunks = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, _, last = part.partition("-")
        try:
            first, last = int(first), int(last or first)
        except ValueError:
            raise ValueError(f"--keep {text!r}: expected chunk ranges like 0-7,24-31") from None
        if not 0 <= first <= last < sequence_length:
            raise ValueError(f"--keep {text!r}: chunk range {part} outside 0..{sequence_length - 1}")
        chunks.update(range(first, last + 1))
    return sorted(chunks)


def register(subparsers):
    parser = subparsers.add_parser(
        "infill", help="regenerate bars of a song (MIDI in, MIDI out), or chunks of latent windows",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    parser.add_argument("song", nargs="?", default=None, metavar="SONG.mid", help="the MIDI file whose bars to redo")
    parser.add_argument("--bars", default=None, metavar="A-B",
                        help="bars to regenerate, inclusive, numbered as the song's MIDI editor shows them (from 1 "
                             "at its start, by its time signatures; e.g. 17-48); past the end: a continuation")
    parser.add_argument("--track", default=None,
                        help="the track holding the melody (POP909: MELODY); default: the file's one track with notes")
    parser.add_argument("--start-bar", type=int, default=None,
                        help="the song bar where the 64-bar window starts (default: placed so that the bars get "
                             "the most context on both sides)")
    parser.add_argument("--num", type=int, default=1, help="infilled versions, one per seed (default 1)")
    parser.add_argument("--melody-only", action="store_true",
                        help="write the melody alone (at the song's tempo) instead of the whole song")
    add_audio_argument(parser)
    add_model_arguments(parser)
    add_generation_arguments(parser)
    parser.add_argument("--resample", type=int, default=None, metavar="U",
                        help="passes per diffusion step, ddpm or ddim (default: the model's sampling.infill_resample; "
                             "the shipped model: 4): each step is taken again from its result noised back, so the "
                             "new bars settle beside the kept ones (RePaint); 1 = the paper's replacement, "
                             "U times faster")
    parser.add_argument("--repeat-start", type=float, default=None, metavar="S",
                        help="in (0, 1]: the regenerated bars start as the kept bars 16 before them (after them "
                             "when none is before), noised to level S of the schedule, and only those steps run: "
                             "smaller S keeps more of the repeat (default: the model's sampling."
                             "infill_repeat_start; 1 = from noise, the paper's)")
    parser.add_argument("--out", required=True,
                        help="output folder of MIDI and PNG files; with --template, an .npy of scaled latents")
    parser.add_argument("--template", default=None, help="research path: .npy of scaled latents [B, 32, k] or [32, k]")
    parser.add_argument("--keep", default=None,
                        help="with --template: chunks to keep, 0-based inclusive ranges (default 0-7,24-31: the "
                             "paper's setting)")
    parser.add_argument("--original-start", action="store_true",
                        help="with --template: start from U[0,1) with the raw template, as the original code "
                             "(default N(0,I))")
    parser.add_argument("--template-at-current-step", action="store_true",
                        help="with --template: noise the kept chunks to level t instead of t-1 (the original's "
                             "off-by-one)")
    add_latent_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.song is None:
        if args.template is None:
            raise ValueError("give a song (SONG.mid --bars A-B) or, on the research path, --template FILE.npy")
        return _run_template(args)
    if args.template is not None:
        raise ValueError("a song and --template: give one")
    if args.bars is None:
        raise ValueError(f"{args.song}: which bars to regenerate? add --bars A-B (e.g. --bars 17-48)")
    refuse(args, {**TEMPLATE_ONLY, "keep": "--keep"}, "only with --template (latents in and out)")
    return _run_song(args)


def _run_song(args) -> int:
    import pathlib

    from symdiff_tf.generation.song import parse_bars, plan_song, regenerate_song, write_song
    from symdiff_tf.melody.pianoroll import save_song_pianoroll

    song = pathlib.Path(args.song)
    if not song.is_file():
        raise ValueError(f"{args.song}: no such MIDI file")
    out = output_folder(args.out, "the song's MIDI, PNG (and WAV) files")
    plan = plan_song(song, parse_bars(args.bars), track=args.track, start_bar=args.start_bar)
    for line in plan.lines():
        print(line)
    seeds = seeds_of(args.seed, args.num)
    model = open_music_model(args)
    options = options_from_args(args, model)
    print(f"infilling with {model.describe()} ({options.describe(infilling=True)})", flush=True)
    infill_windows, sample_windows = model_callables(model, options)
    melodies = regenerate_song(plan, seeds, infill_windows, sample_windows,
                               progress=None if args.no_progress else "infilling")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for seed, steps in zip(seeds.tolist(), melodies):
        midi, span = write_song(plan, steps, out / f"infill_{seed:04d}.mid", melody_only=args.melody_only)
        written.append(midi)
        first_new, last_new = plan.new_song_bars
        written.append(save_song_pianoroll(midi.with_suffix(".png"), midi, plan.melody.track or None, [span],
                                           title=f"{song.name}, seed {seed}: bars {first_new}-{last_new} new"))
    written += write_audio(args, [path for path in written if path.suffix == ".mid"])
    print(f"wrote {len(seeds)} version{'s' if len(seeds) > 1 else ''} of {song.name} to {out}/: "
          f"{', '.join(path.name for path in written)}")
    print(f"next: listen to {written[0].name} beside the original; other takes: --seed or --num")
    print(plan.summary())
    return 0


def load_template(path):
    """`--template`: scaled latents as float32 `[B, L, k]` (a `[L, k]` array is one window); the shape is checked
    against the model by the caller."""
    import numpy as np

    from symdiff_tf.errors import load_array

    template = load_array(path, "scaled latents [B, 32, k] or [32, k] (float)")
    if template.ndim == 2:
        template = template[None]
    if template.ndim != 3 or len(template) == 0 or not np.issubdtype(template.dtype, np.floating):
        raise ValueError(f"--template {path}: expected float scaled latents [B, 32, k] or [32, k], got "
                         f"{template.dtype} {template.shape}")
    if not np.all(np.isfinite(template)):
        raise ValueError(f"--template {path}: contains NaN or infinite values")
    return template.astype(np.float32)


def _run_template(args) -> int:
    import dataclasses

    import numpy as np

    if args.checkpoint is None:
        raise ValueError("--template: latents are infilled with a run; add --checkpoint RUN")
    refuse(args, {"vae": "--vae", "temperature": "--temperature", "model": "--model"},
           "not with --template (latents in and out, nothing is decoded)")
    out = check_npy_out(args.out)
    template = load_template(args.template)
    sampler = open_run_from_args(args, with_scaler=False).sampler
    if template.shape[1:] != sampler.window_shape:
        raise ValueError(f"--template {args.template}: the model infills windows [B, {sampler.window_shape[0]}, "
                         f"{sampler.window_shape[1]}], got {list(template.shape)}")
    keep = np.zeros(sampler.window_shape[0], np.float32)
    keep[parse_chunks(args.keep or "0-7,24-31", len(keep))] = 1.0
    options = options_from_args(args, sampler)
    if args.template_at_current_step and args.resample is None:
        options = dataclasses.replace(options, resample=1)  # the original's paste: its one pass per step
    if args.original_start and args.repeat_start is None:
        options = dataclasses.replace(options, repeat_start=1.0)  # the original's start: from noise
    check_intermediates(args.intermediates, options.steps)
    seeds = seeds_of(args.seed, len(template))
    with step_progress(args, f"infill ({options.scheduler})", options.steps) as progress:
        result = sampler.infill(template, keep, seeds, options.scheduler, options.steps, options.scheduler_eta,
                                uniform_start=args.original_start,
                                template_at_current_step=args.template_at_current_step,
                                num_intermediates=args.intermediates, progress=progress,
                                resample=options.resample, repeat_start=options.repeat_start)
    write_latents(result, out, args.intermediates)
    return 0
