"""`symdiff evaluate (--diffusion DIR --vae FILE | --model BUNDLE) --data SPEC --out DIR [--mdn DIR]
[--num-samples N]`.

Generates N windows per method, decodes them with the VAE and writes the paper's Tables 1–3 for unconditional
generation and for infilling the middle 16 chunks (`DIR/tables.json`, `.csv`, `.md`), piano rolls (Figure 2),
the refinement curves (Figure 3) and a few MIDI files. See docs/evaluation.md.

With `--data tfds:...` the windows are made as the diffusion model was trained: the `latents:` section of its
config (`symdiff train` records it in WORKDIR/config.yaml; window_chunks, kept_dims, allow_rests, ...), with
z drawn once per chunk (`latent_config.fixed_windows_config`). An MDN trained with other `latents:` settings is
refused, and so is a `--vae` whose weights differ from the MusicVAE a run recorded (`musicvae.identity`).
`--model` evaluates a SavedModel bundle (e.g. the shipped one) with its own MusicVAE, rebuilt in Keras from its
weights (`symdiff_tf.export.reload`), through the same code as a run.
"""
import pathlib


def register(subparsers):
    parser = subparsers.add_parser(
        "evaluate", help="the paper's Tables 1-3 and Figures 2-3 for trained models",
        description=__doc__.split("\n\n")[1])
    parser.add_argument("--diffusion", default=None, metavar="DIR",
                        help="diffusion run directory of `symdiff train` (or a checkpoint prefix, or an inference "
                             "artifact folder DIR/inference/step_N); with --vae")
    parser.add_argument("--model", default=None, metavar="BUNDLE",
                        help="instead of --diffusion and --vae: a SavedModel bundle of `symdiff export` (a version "
                             "folder or its parent), e.g. saved_models/default")
    parser.add_argument("--diffusion-config", default=None, metavar="FILE",
                        help="config with the ddpm: section (default: the one the run was trained with)")
    parser.add_argument("--mdn", default=None, metavar="DIR", help="TransformerMDN run directory (optional)")
    parser.add_argument("--mdn-config", default=None, metavar="FILE", help="config with the mdn: section "
                        "(default: the one the run was trained with)")
    parser.add_argument("--vae", default=None, metavar="FILE", help="MusicVAE .keras file (with --diffusion)")
    parser.add_argument("--data", required=True, metavar="SPEC",
                        help="tfds:NAME/CONFIG[@DATA_DIR] (built latents; train and validation/test splits) or "
                             ".npz of scaled windows with arrays 'train' and 'test' (or 'eval'/'validation')")
    parser.add_argument("--split", choices=("auto", "test", "validation"), default="auto",
                        help="tfds data: the held-out split of the test row and the infilling templates (default "
                             "auto: test when the dataset has one, else validation, e.g. Lakh's hash split)")
    parser.add_argument("--scaler", default=None, metavar="FILE",
                        help="latent_scaling.json the models were trained with (default: the diffusion run's, or "
                             "the bundle's)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--num-samples", type=int, default=1000, help="windows per row (paper 1000)")
    parser.add_argument("--seed", type=int, default=42, help="seed of every draw (default 42)")
    parser.add_argument("--ddim-steps", type=int, default=None, help="steps of the ddim row (default: config)")
    parser.add_argument("--ddim-sweep", type=int, nargs="+", default=(), metavar="K",
                        help="also a row ddim-K for each step count K (same seeds as the ddim row), e.g. "
                             "--ddim-sweep 10 25 100 1000")
    parser.add_argument("--dpm-sweep", type=int, nargs="+", default=(), metavar="K",
                        help="also a row dpm-solver++-K for each step count K (same seeds as the ddim row), e.g. "
                             "--dpm-sweep 10 20 50")
    parser.add_argument("--precision", choices=("none", "bfloat16", "float16"), default="none",
                        help="the diffusion and MDN networks in mixed precision while sampling (default none: "
                             "float32); the VAE decodes in float32 always")
    parser.add_argument("--curve-points", type=int, default=10,
                        help="intermediate diffusion states scored for Figure 3 (0: no curves)")
    parser.add_argument("--curve-windows", type=int, default=250,
                        help="windows of the ddpm row the Figure 3 states are decoded and scored on (default "
                             "250, the first ones: each state costs a decode of that many windows)")
    parser.add_argument("--fill", choices=("noise", "zeros"), default="noise",
                        help="dropped latent dims before decoding: N(0,1) noise (original) or zeros")
    parser.add_argument("--oa-formula", choices=("exact", "original", "both"), default="exact",
                        help="overlapping area: exact (default), the released code's formula, or both (the exact "
                             "one's tables in OUT, the original's in OUT/oa_original/, from the same samples)")
    parser.add_argument("--empty-frames", choices=("zero", "skip"), default="zero",
                        help="frames without notes: mean 0 / variance 0 (original) or skip their pairs")
    parser.add_argument("--infill-frames", choices=("all", "gap"), default="all",
                        help="infilling: score every frame (default) or only the frames touching the gap")
    parser.add_argument("--original-infill", action="store_true",
                        help="ddpm infilling as the released code: U[0,1) start, template noised to level t")
    parser.add_argument("--infill-resample", type=int, default=1, metavar="U",
                        help="passes per reverse step of the ddpm and ddim infilling rows (default 1, the paper's "
                             "replacement; more: RePaint's resampling, U times the network calls)")
    parser.add_argument("--infill-repeat-start", type=float, default=1.0, metavar="S",
                        help="where the ddpm and ddim infilling rows start the gap (default 1: from noise, the "
                             "paper's; less: from the kept chunks 16 bars before, noised to level S)")
    parser.add_argument("--flatten", choices=("chunk", "sequence"), default="chunk",
                        help="FD/MMD samples: each 2-bar latent (default) or each whole window")
    parser.add_argument("--decode-batch", type=int, default=32, help="windows per VAE decoder call (default 32)")
    parser.add_argument("--pianorolls", type=int, default=2, help="Figure 2 examples per setting")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def _config_file(run, explicit) -> pathlib.Path:
    """`explicit`, else the config the run at `run` was trained with (`run_dir.locate`: an error naming `run`
    when it holds no checkpoint or artifact)."""
    from symdiff_tf.models_common import run_dir

    path = pathlib.Path(explicit) if explicit else run_dir.locate(run).config_file
    if path is None or not path.is_file():
        raise ValueError(f"{path or run}: no config file (give the model's config with --mdn-config)")
    return path


def check_same_windows(diffusion, args) -> None:
    """With `--mdn`, the MDN's `latents:` section must say what the diffusion model's says, or the two models
    were trained on different windows."""
    from symdiff_tf.config import load_section, to_dict
    from symdiff_tf.data.latent_config import LatentDataConfig

    if not args.mdn:
        return
    mdn_file = _config_file(args.mdn, args.mdn_config)
    mdn_config = load_section(LatentDataConfig, mdn_file, "latents", required=False)
    if mdn_config != diffusion.latents:
        ours, theirs = to_dict(diffusion.latents), to_dict(mdn_config)
        differ = ", ".join(f"{key}: {ours[key]!r} vs {theirs[key]!r}" for key in ours if ours[key] != theirs[key])
        raise ValueError(f"the MDN ({mdn_file}) and the diffusion model ({diffusion.source}) were trained with "
                         f"different latents: settings ({differ}); evaluate models trained on the same windows")


def _tfds_windows(spec: str, split: str, num: int, seed: int, trained_config):
    """`num` windows of a split of built TFDS latents, made as `trained_config` (the models' `latents:` section)
    says but with fixed z draws, read without holding them all. The train row is the `train` split itself, never
    the transposed copies a model with `latents.transposed` trained on; all rows are scaled as the model was."""
    import itertools

    import numpy as np

    from symdiff_tf.data.latent_config import fixed_windows_config
    from symdiff_tf.data.sources import held_out_windows, open_tfds_windows, opened_scaler
    from symdiff_tf.data.stream import dataset_size
    from symdiff_tf.data.tfds_spec import open_builder

    config = fixed_windows_config(trained_config)
    if split == "train" and config.transposed:
        dataset = held_out_windows(open_builder(spec), "train", opened_scaler(spec, config), config)
    else:
        dataset = open_tfds_windows(spec, split, config)
    if dataset is None:
        raise ValueError(f"--data {spec}: no {split} split")
    total = dataset_size(dataset)
    if total == 0:
        raise ValueError(f"--data {spec}: the {split} split has no windows")
    chosen = set(np.random.default_rng(seed).choice(total, size=min(num, total), replace=False).tolist())
    read = itertools.islice(dataset.as_numpy_iterator(), max(chosen) + 1)  # no need to read past the last one
    windows = [w for i, w in enumerate(read) if i in chosen]
    return np.stack(windows), opened_scaler(spec, config)


def _npz_windows(path: str):
    """(train, test, name of the test array) scaled windows `[n, 32, k]` float32 of an `.npz` with arrays 'train'
    and 'test' (or 'eval'/'validation')."""
    from symdiff_tf.data.sources import check_windows
    from symdiff_tf.errors import load_arrays

    arrays = load_arrays(path, "scaled latent windows [n, 32, k]: arrays 'train' and 'test'")
    names = sorted(arrays) if isinstance(arrays, dict) else []
    test_name = next((n for n in ("test", "eval", "validation") if n in names), None)
    if "train" not in names or test_name is None:
        raise ValueError(f"--data {path}: expected arrays 'train' and 'test' (or 'eval'/'validation') of scaled "
                         f"latent windows [n, 32, k], found {names or 'a single array'}")
    return (check_windows(arrays["train"], f"--data {path}[train]"),
            check_windows(arrays[test_name], f"--data {path}[{test_name}]"), test_name)


def held_out_split(spec: str, requested: str) -> str:
    """The split of a tfds `spec` that `--split requested` names: "auto" is test when the dataset has one, else
    validation; a split the dataset lacks is an error naming the ones it has."""
    from symdiff_tf.data.tfds_spec import open_builder

    available = set(open_builder(spec).info.splits)
    name = requested if requested != "auto" else next((s for s in ("test", "validation") if s in available), None)
    if name not in available:
        raise ValueError(f"--data {spec}: no {'held-out' if name is None else name} split (it has "
                         f"{', '.join(sorted(available))}); choose one with --split")
    return name


def load_data(args, trained_config):
    """(train windows, test windows, scaler or None, held-out split name) for `--data`; tfds windows as
    `trained_config` (a `LatentDataConfig`: the diffusion model's `latents`) says."""
    if args.data.startswith("tfds:"):
        split = held_out_split(args.data, args.split)
        train, scaler = _tfds_windows(args.data, "train", args.num_samples, args.seed, trained_config)
        test, _ = _tfds_windows(args.data, split, args.num_samples, args.seed + 1, trained_config)
        return train, test, scaler, split
    if not args.data.endswith(".npz"):
        raise ValueError(f"--data {args.data!r}: expected tfds:NAME/CONFIG[@DATA_DIR] or an .npz file")
    if args.split != "auto":
        raise ValueError(f"--split {args.split}: only for tfds data; an .npz names its held-out array itself")
    train, test, name = _npz_windows(args.data)
    return train, test, None, name


def load_models(args):
    """(diffusion `DiffusionModel`, its MusicVAE, mdn or None): `--model BUNDLE`, or `--diffusion RUN --vae FILE`;
    a run that cannot be read, a config that disagrees with its weights, or a VAE that is not the one the models
    learned from raises a one-line error naming it."""
    from symdiff_tf import musicvae
    from symdiff_tf.mdn.inference import load_mdn
    from symdiff_tf.musicvae.identity import check_vae

    if args.model is not None:
        if args.diffusion or args.vae or args.diffusion_config:
            raise ValueError("--model BUNDLE: give it alone (it holds the diffusion model and its MusicVAE), not "
                             "with --diffusion/--vae/--diffusion-config")
        from symdiff_tf.cli.commands.generating import model_dir
        from symdiff_tf.export.reload import open_bundle_model

        diffusion, vae = open_bundle_model(model_dir(args.model), precision=args.precision)
        if args.scaler:
            raise ValueError("--scaler: a bundle holds its own latent scaling")
    else:
        if not (args.diffusion and args.vae):
            raise ValueError("give --diffusion RUN and --vae FILE, or --model BUNDLE")
        from symdiff_tf.diffusion.inference import open_run

        vae = musicvae.load(args.vae)
        diffusion = open_run(args.diffusion, args.diffusion_config, precision=args.precision, with_scaler=False)
    vae_name = f"--vae {args.vae}" if args.vae else f"the MusicVAE of {args.model}"
    check_vae(vae, diffusion.vae_content_hash, f"the diffusion model {diffusion.source}", vae_name)
    mdn = load_mdn(args.mdn_config, args.mdn, precision=args.precision) if args.mdn else None
    if mdn is not None:
        check_vae(vae, mdn[0].info.get("vae_content_hash"), f"the MDN run {args.mdn}", vae_name)
    check_same_windows(diffusion, args)
    return diffusion, vae, mdn


def run_scaler(args, diffusion, data_scaler):
    """The latent scaling of a run: `--scaler`, else the run's own, else the one fit on the tfds data."""
    from symdiff_tf.data.scaler import LatentScaler
    from symdiff_tf.diffusion.inference import checked_scaler, run_scaler_file

    path = args.scaler or run_scaler_file(args.diffusion)
    if path is not None:
        return checked_scaler(LatentScaler.load(path), diffusion.sampler, path)
    if data_scaler is None:
        raise ValueError(f"{args.diffusion}: no latent_scaling.json in the run; pass --scaler FILE")
    return data_scaler


def sweep_of(args) -> tuple:
    """The (scheduler, K) rows of `--ddim-sweep` and `--dpm-sweep`, in order, without repeats."""
    pairs = [("ddim", k) for k in args.ddim_sweep] + [("dpm-solver++", k) for k in args.dpm_sweep]
    bad = [k for _, k in pairs if k < 1]
    if bad:
        raise ValueError(f"--ddim-sweep/--dpm-sweep {bad[0]}: step counts must be at least 1")
    return tuple(dict.fromkeys(pairs))


def run(args) -> int:
    import dataclasses

    from symdiff_tf.diffusion.repeat_start import check_repeat_start
    from symdiff_tf.evaluation.pipeline import EvaluationInputs, EvaluationSettings, evaluate
    from symdiff_tf.evaluation.tables import ScoringOptions, terminal_table

    sweep = sweep_of(args)
    if args.infill_resample < 1:
        raise ValueError(f"--infill-resample {args.infill_resample}: expected at least 1 pass per step")
    check_repeat_start(args.infill_repeat_start, "--infill-repeat-start")
    if args.infill_repeat_start < 1 and args.original_infill:
        raise ValueError("--infill-repeat-start with --original-infill: the released code starts from U[0, 1)")
    diffusion, vae, mdn = load_models(args)
    if args.data.startswith("tfds:"):
        from symdiff_tf.data.tfds_spec import recorded_vae_hash
        from symdiff_tf.musicvae.identity import check_vae

        check_vae(vae, recorded_vae_hash(args.data), f"--data {args.data}", f"the MusicVAE ({args.vae or args.model})")
    train, test, data_scaler, held_out = load_data(args, diffusion.latents)
    if diffusion.scaler is None:
        diffusion = dataclasses.replace(diffusion, scaler=run_scaler(args, diffusion, data_scaler))
    inputs = EvaluationInputs(train, test, diffusion.scaler, vae, diffusion, mdn)
    scorings = [ScoringOptions(formula=formula, empty_frames=args.empty_frames, infill_frames=args.infill_frames,
                               flatten=args.flatten)
                for formula in (("exact", "original") if args.oa_formula == "both" else (args.oa_formula,))]
    settings = EvaluationSettings(
        num_samples=args.num_samples, seed=args.seed, held_out_split=held_out, ddim_steps=args.ddim_steps,
        curve_points=args.curve_points, curve_windows=args.curve_windows, fill=args.fill,
        decode_batch=args.decode_batch, pianorolls=args.pianorolls,
        precision=args.precision, original_infill=args.original_infill,
        infill_resample=args.infill_resample, infill_repeat_start=args.infill_repeat_start, sweep=sweep,
        scoring=scorings[0],
        extra_scorings=tuple(scorings[1:]))
    result = evaluate(inputs, settings, args.out, progress=not args.no_progress)
    out = pathlib.Path(args.out)
    print(terminal_table(result.tables, result.absent, result.unscored))
    extra = "".join(f", {path} (the {name[3:]} OA formula)" for name, path in result.paths.items()
                    if name.startswith("oa_"))
    print(f"wrote {result.paths['markdown']} (Tables 1-3), {result.paths['json']}, {result.paths['csv']}, "
          f"{result.paths['run']}{extra}, {result.paths['listening_markdown']} (what a listener hears); piano rolls in {out / 'pianorolls'}/, MIDI in {out / 'midi'}/"
          + (f", Figure 3 in {out / 'figure3_curves.png'}" if (out / "figure3_curves.png").is_file() else ""))
    print(f"next: read {result.paths['markdown']} (docs/evaluation.md explains each number) and listen to "
          f"{out / 'midi' / 'unconditional'}/; evaluate another checkpoint with --diffusion RUN/inference/step_N "
          "--out OTHER_DIR to compare")
    return 0
