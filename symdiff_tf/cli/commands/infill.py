"""`symdiff infill SONG.mid --bars A-B [--track NAME] [--model DIR] --out OUT`: regenerates bars A to B of a song
(counted from 1 in 4/4 from the melody's first bar) with the SavedModel bundle (default: the shipped model); the
other bars come back with exactly the song's notes, and bars past the song's end are generated (a continuation).

The research path: `symdiff infill --checkpoint RUN --template FILE.npy --keep 0-7,24-31 --out FILE.npy` infills
scaled latent windows; `symdiff infill SONG.mid --bars A-B --checkpoint RUN --vae FILE --out DIR` gives MIDI."""
from symdiff_tf.cli.commands.bundle_io import (
    add_music_arguments,
    bundle_ddpm_config,
    bundle_steps,
    melodies_from_outputs,
    open_bundle,
    seeds_of,
    write_music,
)
from symdiff_tf.cli.commands.sample import (
    add_sampling_arguments,
    check_intermediates,
    check_out,
    check_steps,
    load_sampler_from_args,
    step_progress,
    write_result,
)


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
                        help="bars to regenerate, from 1, inclusive (e.g. 17-48)")
    parser.add_argument("--track", default=None, help="the track holding the melody (POP909: MELODY); default: all "
                                                      "instruments")
    parser.add_argument("--melody", type=int, default=0, help="which melody of the file (default 0, the first)")
    parser.add_argument("--start-bar", type=int, default=1,
                        help="the 64-bar window's first bar, odd (default 1: the melody's first bar)")
    parser.add_argument("--num", type=int, default=1, help="infilled versions, one per seed (default 1)")
    parser.add_argument("--steps", type=int, default=None,
                        help="with a song: diffusion steps (the model's N runs DDPM, fewer DDIM; default: the "
                             "config's ddim_steps)")
    add_sampling_arguments(parser)
    add_music_arguments(parser, with_num=False)
    parser.add_argument("--template", default=None, help="research path: .npy of scaled latents [B, 32, k] or [32, k]")
    parser.add_argument("--keep", default="0-7,24-31",
                        help="with --template: chunks to keep, 0-based inclusive ranges (default 0-7,24-31: the "
                             "paper's setting)")
    parser.add_argument("--original-start", action="store_true",
                        help="start from U[0,1) with the raw template, as the original code (default N(0,I))")
    parser.add_argument("--template-at-current-step", action="store_true",
                        help="noise the kept chunks to level t instead of t-1 (the original's off-by-one)")
    parser.add_argument("--ddim-steps", type=int, default=None, metavar="K",
                        help="with --template: infill with DDIM over K steps (not in the paper) instead of all N "
                             "DDPM steps")
    parser.add_argument("--eta", type=float, default=None, help="DDIM eta (default from config; with --ddim-steps)")
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
    return _run_song(args)


def _song_window(args):
    import pathlib

    from symdiff_tf.generation.song import parse_bars, song_window
    from symdiff_tf.melody.extract import default_quantize

    if not pathlib.Path(args.song).is_file():
        raise ValueError(f"{args.song}: no such MIDI file")
    window = song_window(args.song, parse_bars(args.bars), track=args.track, melody=args.melody,
                         start_bar=args.start_bar, quantize=default_quantize(args.track))
    if window.keep_bars.all() or not window.keep_bars.any():
        raise ValueError(f"--bars {args.bars}: keeps {'every' if window.keep_bars.all() else 'no'} bar of the "
                         f"window (the song fills bars {args.start_bar}-{args.start_bar + window.input_bars - 1})")
    return window


def _run_song(args) -> int:
    import numpy as np

    window = _song_window(args)
    seeds = seeds_of(args.seed, args.num)
    tokens = np.repeat(window.tokens[None], len(seeds), axis=0)
    real_bars = np.repeat(window.keep_bars[None], len(seeds), axis=0)
    if args.checkpoint is not None:
        if args.vae is None:
            raise ValueError("--checkpoint with a song needs --vae FILE to encode and decode it")
        from symdiff_tf.generation.generator import Generator

        generator = Generator.from_files(args.vae, args.checkpoint)
        melodies = generator.infill(tokens, real_bars, seeds, steps=args.steps, temperature=args.temperature,
                                    progress=None if args.no_progress else "infilling")
    else:
        melodies = _bundle_infill(args, tokens, real_bars, seeds)
    print(f"{args.song}: bars {args.bars} regenerated in a window of bars {args.start_bar}-{args.start_bar + 63} "
          f"(the song fills {window.input_bars} of them; the others keep its notes)")
    write_music(melodies, args.out, "infill", args.seed, "infilled songs",
                "compare with the input in a MIDI player; other bars: --bars; other takes: --seed or --num")
    return 0


def _bundle_infill(args, tokens, real_bars, seeds):
    """The bundle's `infill` (chunk-level: a chunk with both bars kept is kept), then the kept bars of generated
    chunks pasted back from the song, as the library does (`generation.tokens.joined_tokens`)."""
    import numpy as np
    import tensorflow as tf

    from symdiff_tf.generation.generator import Melodies
    from symdiff_tf.generation.tokens import chunks_of_bars, joined_tokens

    bundle, folder = open_bundle(args.model)
    steps = bundle_steps(args.steps, bundle_ddpm_config(folder))
    print(f"infilling with {folder} ({steps} diffusion steps)", flush=True)
    mask = chunks_of_bars(tf.constant(real_bars))
    outputs = bundle.signatures["infill"](tokens=tf.constant(tokens, tf.int32), mask=mask,
                                          seeds=tf.constant(seeds), steps=tf.constant(steps),
                                          temperature=tf.constant(args.temperature, tf.float32))
    if bool(tf.reduce_all(tf.repeat(mask, 2, axis=1) == real_bars)):
        return melodies_from_outputs(outputs, real_bars)
    decoded = outputs["tokens"].numpy()
    bars = decoded.reshape(len(decoded), -1, 16)  # [B, 64 bars, 16 steps]
    bars[real_bars] = tokens.reshape(len(tokens), -1, 16)[real_bars]
    merged = bars.reshape(decoded.shape)
    joined = joined_tokens(tf.constant(merged), tf.constant(real_bars)).numpy()
    return Melodies(merged, joined, None, np.asarray(real_bars, bool))


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
    import numpy as np

    if args.ddim_steps is None and args.eta is not None:
        raise ValueError("--eta applies to DDIM infilling only: add --ddim-steps K")
    if args.ddim_steps is not None and args.ddpm_form is not None:
        raise ValueError("--ddpm-form applies to DDPM infilling only, not with --ddim-steps")
    out = check_out(args.out)
    template = load_template(args.template)
    trained, sampler = load_sampler_from_args(args)
    expected = (sampler.sequence_length, sampler.latent_dim)
    if template.shape[1:] != expected:
        raise ValueError(f"--template {args.template}: the model infills windows [B, {expected[0]}, {expected[1]}]"
                         f", got {list(template.shape)}")
    mask = np.zeros(expected[0], np.float32)
    mask[parse_chunks(args.keep, expected[0])] = 1.0
    replacement = {"uniform_start": args.original_start, "template_at_current_step": args.template_at_current_step,
                   "num_intermediates": args.intermediates}
    sampling = trained.config.sampling
    if args.ddim_steps is None:
        check_intermediates(args.intermediates, sampler.schedule.num_steps)
        with step_progress(args, "ddpm", sampler.schedule.num_steps) as progress:
            result = sampler.infill(template, mask, args.seed, ddpm_form=args.ddpm_form or sampling.ddpm_form,
                                    variance=args.variance, progress=progress, **replacement)
    else:
        steps = check_steps("--ddim-steps", args.ddim_steps, sampler)
        check_intermediates(args.intermediates, steps)
        with step_progress(args, "ddim", steps) as progress:
            result = sampler.ddim_infill(template, mask, args.seed, num_steps=steps,
                                         eta=sampling.ddim_eta if args.eta is None else args.eta,
                                         progress=progress, **replacement)
    write_result(result, out, args.intermediates)
    return 0
