"""`symdiff infill --checkpoint RUN --template FILE.npy --keep 0-7,24-31 --out FILE.npy [--ddim-steps K [--eta E]]
[--config FILE]`."""
from symdiff_tf.commands.sample import (
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
        "infill", help="regenerate chunks of latent windows with the diffusion model (Algorithm 1)",
        description="Keeps the chunks named by --keep of each template window and regenerates the others.")
    add_sampling_arguments(parser)
    parser.add_argument("--template", required=True, help=".npy of scaled latents [B, 32, k] or [32, k]")
    parser.add_argument("--keep", default="0-7,24-31",
                        help="chunks to keep, 0-based inclusive ranges (default 0-7,24-31: the paper's setting)")
    parser.add_argument("--original-start", action="store_true",
                        help="start from U[0,1) with the raw template, as the original code (default N(0,I))")
    parser.add_argument("--template-at-current-step", action="store_true",
                        help="noise the kept chunks to level t instead of t-1 (the original's off-by-one)")
    parser.add_argument("--ddim-steps", type=int, default=None, metavar="K",
                        help="infill with DDIM over K steps (not in the paper) instead of all N DDPM steps")
    parser.add_argument("--eta", type=float, default=None, help="DDIM eta (default from config; with --ddim-steps)")
    parser.set_defaults(func=run)


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


def run(args) -> int:
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
