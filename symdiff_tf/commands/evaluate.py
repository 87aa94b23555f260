"""`symdiff evaluate --diffusion DIR --vae FILE --data SPEC --out DIR [--mdn DIR] [--num-samples N]`.

Generates N windows per method, decodes them with the VAE and writes the paper's Tables 1–3 for unconditional
generation and for infilling the middle 16 chunks (`DIR/tables.json`, `.csv`, `.md`), piano rolls (Figure 2),
the refinement curves (Figure 3) and a few MIDI files. See docs/evaluation.md.

With `--data tfds:...` the windows are made as the diffusion model was trained: the `latents:` section of its
config (`symdiff train` records it in WORKDIR/config.yaml; window_chunks, kept_dims, allow_rests, ...), with
z drawn once per chunk (`latent_config.fixed_windows_config`). An MDN trained with other `latents:` settings is
refused, and so is a `--vae` whose weights differ from the MusicVAE a run recorded (`musicvae.identity`).
"""
import pathlib


def register(subparsers):
    parser = subparsers.add_parser(
        "evaluate", help="the paper's Tables 1-3 and Figures 2-3 for trained models",
        description=__doc__.split("\n\n")[1])
    parser.add_argument("--diffusion", required=True, metavar="DIR",
                        help="diffusion run directory of `symdiff train` (or a checkpoint prefix, or an inference "
                             "artifact folder DIR/inference/step_N)")
    parser.add_argument("--diffusion-config", default=None, metavar="FILE",
                        help="config with the ddpm: section (default: the one the run was trained with)")
    parser.add_argument("--mdn", default=None, metavar="DIR", help="TransformerMDN run directory (optional)")
    parser.add_argument("--mdn-config", default=None, metavar="FILE", help="config with the mdn: section "
                        "(default: the one the run was trained with)")
    parser.add_argument("--vae", required=True, metavar="FILE", help="MusicVAE .keras file")
    parser.add_argument("--data", required=True, metavar="SPEC",
                        help="tfds:NAME/CONFIG[@DATA_DIR] (built latents; train and validation/test splits) or "
                             ".npz of scaled windows with arrays 'train' and 'test' (or 'eval'/'validation')")
    parser.add_argument("--scaler", default=None, metavar="FILE",
                        help="latent_scaling.json the models were trained with (default: the diffusion work "
                             "directory's, else the one fit on the tfds data)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--num-samples", type=int, default=1000, help="windows per row (paper 1000)")
    parser.add_argument("--seed", type=int, default=42, help="seed of every draw (default 42)")
    parser.add_argument("--ddim-steps", type=int, default=None, help="steps of the ddim row (default: config)")
    parser.add_argument("--curve-points", type=int, default=10,
                        help="intermediate diffusion states scored for Figure 3 (0: no curves)")
    parser.add_argument("--fill", choices=("noise", "zeros"), default="noise",
                        help="dropped latent dims before decoding: N(0,1) noise (original) or zeros")
    parser.add_argument("--oa-formula", choices=("exact", "original"), default="exact",
                        help="overlapping area: exact (default) or the released code's formula")
    parser.add_argument("--empty-frames", choices=("zero", "skip"), default="zero",
                        help="frames without notes: mean 0 / variance 0 (original) or skip their pairs")
    parser.add_argument("--infill-frames", choices=("all", "gap"), default="all",
                        help="infilling: score every frame (default) or only the frames touching the gap")
    parser.add_argument("--original-infill", action="store_true",
                        help="ddpm infilling as the released code: U[0,1) start, template noised to level t")
    parser.add_argument("--flatten", choices=("chunk", "sequence"), default="chunk",
                        help="FD/MMD samples: each 2-bar latent (default) or each whole window")
    parser.add_argument("--decode-batch", type=int, default=8, help="windows per VAE decoder call")
    parser.add_argument("--pianorolls", type=int, default=2, help="Figure 2 examples per setting")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def _locate(run):
    """Where the weights, config and scaler of the run at `run` are (`run_dir.locate`); exits when it has none."""
    from symdiff_tf.models_common import run_dir

    try:
        return run_dir.locate(run)
    except FileNotFoundError as err:
        raise SystemExit(f"symdiff evaluate: {err}") from err


def _config_file(run, explicit) -> pathlib.Path:
    """`explicit`, else the config the run at `run` was trained with."""
    path = pathlib.Path(explicit) if explicit else _locate(run).config_file
    if path is None or not path.is_file():
        raise SystemExit(f"{path or run}: no config file (give the model's config with --diffusion-config/"
                         "--mdn-config)")
    return path


def latent_config(args):
    """The `LatentDataConfig` the diffusion model was trained with: the `latents:` section of its config file
    (read with `config.load_section`, as `symdiff train` reads it; defaults when there is none). With `--mdn`,
    the MDN's section must say the same, or the two models were trained on different windows."""
    from symdiff_tf.config import load_section, to_dict
    from symdiff_tf.data.latent_config import LatentDataConfig

    diffusion_file = _config_file(args.diffusion, args.diffusion_config)
    config = load_section(LatentDataConfig, diffusion_file, "latents", required=False)
    if args.mdn:
        mdn_file = _config_file(args.mdn, args.mdn_config)
        mdn_config = load_section(LatentDataConfig, mdn_file, "latents", required=False)
        if mdn_config != config:
            ours, theirs = to_dict(config), to_dict(mdn_config)
            differ = ", ".join(f"{key}: {ours[key]!r} vs {theirs[key]!r}" for key in ours
                               if ours[key] != theirs[key])
            raise SystemExit(f"the MDN ({mdn_file}) and the diffusion model ({diffusion_file}) were trained with "
                             f"different latents: settings ({differ}); evaluate models trained on the same windows")
    return config


def _tfds_windows(spec: str, split: str, num: int, seed: int, trained_config):
    """`num` windows of a split of built TFDS latents, made as `trained_config` (the models' `latents:` section)
    says but with fixed z draws, read without holding them all."""
    import itertools

    import numpy as np

    from symdiff_tf.data.latent_config import fixed_windows_config
    from symdiff_tf.data.sources import open_tfds_windows, opened_scaler
    from symdiff_tf.data.stream import dataset_size

    config = fixed_windows_config(trained_config)
    dataset = open_tfds_windows(spec, split, config)
    if dataset is None:
        raise SystemExit(f"--data {spec}: no {split} split")
    total = dataset_size(dataset)
    if total == 0:
        raise SystemExit(f"--data {spec}: the {split} split has no windows")
    chosen = set(np.random.default_rng(seed).choice(total, size=min(num, total), replace=False).tolist())
    read = itertools.islice(dataset.as_numpy_iterator(), max(chosen) + 1)  # no need to read past the last one
    windows = [w for i, w in enumerate(read) if i in chosen]
    return np.stack(windows), opened_scaler(spec, config)


def _npz_windows(path: str):
    import numpy as np

    from symdiff_tf.data.sources import load_window_array

    with np.load(path) as archive:
        names = list(archive.keys())
        test_name = next((n for n in ("test", "eval", "validation") if n in names), None)
        if "train" not in names or test_name is None:
            raise SystemExit(f"--data {path}: expected arrays 'train' and 'test' (or 'eval'/'validation'), "
                             f"found {names}")
        test = np.asarray(archive[test_name], np.float32)
    return load_window_array(path, "train"), test


def load_data(args, trained_config):
    """(train windows, test windows, scaler or None) for `--data`; tfds windows as `trained_config` (a
    `LatentDataConfig`, `latent_config(args)`) says."""
    if args.data.startswith("tfds:"):
        train, scaler = _tfds_windows(args.data, "train", args.num_samples, args.seed, trained_config)
        test, _ = _tfds_windows(args.data, "eval", args.num_samples, args.seed + 1, trained_config)
        return train, test, scaler
    if not args.data.endswith(".npz") or not pathlib.Path(args.data).is_file():
        raise SystemExit(f"--data {args.data!r}: expected tfds:NAME/CONFIG[@DATA_DIR] or an existing .npz file")
    train, test = _npz_windows(args.data)
    return train, test, None


def _scaler_path(args) -> pathlib.Path:
    """`--scaler`, else the diffusion run's latent_scaling.json (the run directory's, then its artifact's)."""
    from symdiff_tf.data.scaler import SCALER_FILENAME

    if args.scaler:
        return pathlib.Path(args.scaler)
    found = _locate(args.diffusion)
    candidates = [folder / SCALER_FILENAME for folder in (found.root, found.artifact) if folder is not None]
    return next((path for path in candidates if path.is_file()), candidates[0])


def load_models(args):
    """(diffusion, mdn or None): each (trained, sampler) from its run; a run that cannot be read or a config that
    disagrees with its weights exits with one line."""
    from symdiff_tf.config import ConfigError
    from symdiff_tf.diffusion.inference import load_sampler
    from symdiff_tf.mdn.inference import load_mdn

    try:
        diffusion = load_sampler(args.diffusion_config, args.diffusion)
        return diffusion, load_mdn(args.mdn_config, args.mdn) if args.mdn else None
    except (ConfigError, FileNotFoundError) as err:
        raise SystemExit(f"symdiff evaluate: {err}") from err


def check_vae(vae, vae_path: str, models: dict) -> None:
    """Exits when a run recorded another MusicVAE (by the hash of its weights) than `vae`."""
    from symdiff_tf.musicvae.identity import vae_content_hash

    recorded = {name: model[0].info.get("vae_content_hash") for name, model in models.items() if model}
    if not any(recorded.values()):
        return
    found = vae_content_hash(vae)
    for name, expected in recorded.items():
        if expected and expected != found:
            raise SystemExit(f"--vae {vae_path}: its weights hash to {found}, the {name} run learned the latents "
                             f"of MusicVAE {expected}; use that VAE")


def run(args) -> int:
    from symdiff_tf import musicvae
    from symdiff_tf.data.scaler import LatentScaler
    from symdiff_tf.evaluation.pipeline import EvaluationInputs, EvaluationSettings, evaluate
    from symdiff_tf.evaluation.tables import ScoringOptions

    train, test, data_scaler = load_data(args, latent_config(args))
    scaler_path = _scaler_path(args)
    if args.scaler or scaler_path.is_file():
        scaler = LatentScaler.load(scaler_path)
    elif data_scaler is not None:
        scaler = data_scaler
    else:
        raise SystemExit(f"no latent scaling statistics: {scaler_path} does not exist; pass --scaler FILE")
    diffusion, mdn = load_models(args)
    vae = musicvae.load(args.vae)
    check_vae(vae, args.vae, {"diffusion": diffusion, "mdn": mdn})
    inputs = EvaluationInputs(train, test, scaler, vae, diffusion, mdn)
    settings = EvaluationSettings(
        num_samples=args.num_samples, seed=args.seed, ddim_steps=args.ddim_steps, curve_points=args.curve_points,
        fill=args.fill, decode_batch=args.decode_batch, pianorolls=args.pianorolls,
        original_infill=args.original_infill,
        scoring=ScoringOptions(formula=args.oa_formula, empty_frames=args.empty_frames,
                               infill_frames=args.infill_frames, flatten=args.flatten))
    try:
        evaluate(inputs, settings, args.out, progress=not args.no_progress)
    except ValueError as err:
        raise SystemExit(f"symdiff evaluate: {err}") from err
    print(f"wrote {pathlib.Path(args.out) / 'tables.json'} (and tables.md, tables.csv, figures)")
    return 0
