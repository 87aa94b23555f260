"""`symdiff train --config FILE --data SPEC [--model ddpm|mdn] [--strategy ...] [--workdir DIR]`.

Trains a registered model (`symdiff_tf.training.registry`) with `symdiff_tf.training.loop.train`; running the same
command again resumes from the last checkpoint in the work directory, at the same step and data position. The work
directory is self-contained for inference (`symdiff_tf.models_common.run_dir`): the resolved config, and after
every checkpoint `WORKDIR/inference/step_N/` with the network as `model.keras` (EMA weights when train.ema), the
latent scaling and the identity of the MusicVAE whose latents it learned (a hash of its weights; null for data
without one: synthetic, .npy, .npz).

With `--data tfds:NAME/CONFIG[@DATA_DIR]` (built latents, docs/data.md) the windows are made as the config file's
`latents:` section says (`symdiff_tf.data.latent_config.LatentDataConfig`; `--set latents.window_chunks=16` etc.),
and the latent scaling statistics are saved as `WORKDIR/latent_scaling.json`, where `symdiff evaluate` looks for
them.

With `--vae FILE` (the MusicVAE `.keras` that encoded those latents; `tfds:` data only, as only there is the
scaling known) the periodic TensorBoard samples (`train.sample_every`) are decoded and drawn as piano rolls
(`symdiff_tf.evaluation.sample_pianorolls`) instead of latent heat maps. Without `--vae`, the VAE recorded in the
dataset's metadata (the file its builder encoded with) is hashed when that file is at hand.
"""
import logging
import pathlib
import sys

from symdiff_tf.training.distribute import STRATEGIES


def register(subparsers):
    parser = subparsers.add_parser(
        "train", help="train the diffusion model (or another registered model) on latent windows",
        description="Trains a model on scaled latent windows [N, 32, k]; resumable (rerun the same command).")
    parser.add_argument("--config", required=True, help="YAML config file (e.g. configs/paper.yaml)")
    parser.add_argument("--data", required=True,
                        help="training windows: tfds:NAME/CONFIG[@DATA_DIR] (built latents, windows as the "
                             "config's latents: section says), FILE.npy, FILE.npz or synthetic:N[:k]")
    parser.add_argument("--val-data", default=None,
                        help="validation windows (default: the 'eval' array of an .npz, or synthetic eval data)")
    parser.add_argument("--model", default="ddpm", help="config section / registered model (default ddpm)")
    parser.add_argument("--strategy", default="default", choices=STRATEGIES, help="tf.distribute strategy")
    parser.add_argument("--tpu", default="", help="TPU address for --strategy tpu")
    parser.add_argument("--cpu-devices", type=int, default=0,
                        help="split the CPU into this many logical devices (to test --strategy mirrored)")
    parser.add_argument("--workdir", default=None, help="checkpoints, TensorBoard, logs (default runs/MODEL)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop at this step (default: the config's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a config value, e.g. ddpm.train.batch_size=32 or latents.allow_rests=true "
                             "(repeatable)")
    parser.add_argument("--vae", default=None, metavar="FILE",
                        help="MusicVAE .keras file that encoded the --data latents: TensorBoard then shows the "
                             "periodic samples (train.sample_every) as decoded piano rolls instead of latent heat "
                             "maps (tfds: data only, whose latent scaling is known)")
    parser.add_argument("--allow-vae-mismatch", action="store_true",
                        help="go on (with a warning) when --vae is not the VAE that made the latents of --data")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from symdiff_tf.config import load_section, to_dict
    from symdiff_tf.data.latent_config import LatentDataConfig
    from symdiff_tf.data.sources import open_windows
    from symdiff_tf.data.tfds_spec import is_tfds_spec, open_builder
    from symdiff_tf.data.worker_shards import ShardedWindows, fit_shared_scaler, worker_position
    from symdiff_tf.training.distribute import get_strategy, is_chief, split_cpu
    from symdiff_tf.training.loop import latent_heatmap, train
    from symdiff_tf.training.registry import get_spec, load_model_config
    from symdiff_tf.training.summaries import viewer_command

    if args.vae and not is_tfds_spec(args.data):
        raise ValueError(f"--vae needs --data tfds:...: the latent scaling of {args.data} is not known, so its "
                         "samples cannot be unscaled for the decoder")
    if args.cpu_devices:
        split_cpu(args.cpu_devices)
    spec = get_spec(args.model)
    config = load_model_config(args.model, args.config, args.overrides)
    latent_config = load_section(LatentDataConfig, args.config, "latents", args.overrides, required=False)
    strategy = get_strategy(args.strategy, args.tpu)
    shared_scaler = None
    if is_tfds_spec(args.data) and worker_position(strategy)[1] > 1:  # each worker reads its own files
        train_windows = ShardedWindows(open_builder(args.data), latent_config)
        shared_scaler = fit_shared_scaler(train_windows, strategy)
        val_windows = (open_windows(args.val_data, "train", latent_config) if args.val_data
                       else train_windows.held_out("eval"))
    else:
        train_windows = open_windows(args.data, "train", latent_config)
        val_windows = open_windows(args.val_data or args.data, "train" if args.val_data else "eval", latent_config)
    config = _latent_dim_from_data(config, train_windows)
    _check_window_shape(train_windows, config, args.data)
    workdir = args.workdir or f"runs/{args.model}"
    resolved = {args.model: to_dict(config), "data": args.data, "val_data": args.val_data,
                "strategy": args.strategy, "num_replicas": strategy.num_replicas_in_sync}
    render_samples = latent_heatmap
    run_info = {"model": args.model, "vae_content_hash": None}
    if is_tfds_spec(args.data):
        resolved["latents"] = to_dict(latent_config)
        if is_chief(strategy):
            scaler = _save_scaler(args.data, latent_config, workdir, shared_scaler)
            vae = _data_vae(args.data, args.vae)
            run_info["vae_content_hash"] = _checked_vae_identity(args.data, vae, args.vae, args.allow_vae_mismatch)
            if args.vae:
                render_samples = _pianoroll_renderer(vae, args.vae, scaler)
    history = train(lambda: spec.build_task(config), train_windows, config.train, workdir, strategy,
                    val_windows=val_windows, resolved_config=resolved, render_samples=render_samples,
                    max_steps=args.max_steps, progress=not args.no_progress, run_info=run_info)
    if history:
        last = history[-1]
        print(f"step {last['step']} loss {last.get('loss', float('nan')):.6f} workdir {workdir}")
    print(f"TensorBoard: {viewer_command(pathlib.Path(workdir) / 'tensorboard')}", flush=True)
    return 0


def _latent_dim_from_data(config, windows):
    """`model.latent_dim: 0` in a config means "as many as the data keeps": the windows' last dimension. The run's
    saved config holds the number, so inference needs no guess."""
    import dataclasses

    model = getattr(config, "model", None)
    if getattr(model, "latent_dim", None) != 0:
        return config
    kept = int(windows.element_spec.shape[-1])
    print(f"model.latent_dim: {kept}, from the data's kept dims", flush=True)
    return dataclasses.replace(config, model=dataclasses.replace(model, latent_dim=kept))


def _check_window_shape(windows, config, spec: str) -> None:
    """Windows `[L, k]` must match the model's `sequence_length` and `latent_dim`, or training fails obscurely."""
    model = getattr(config, "model", None)
    expected = (getattr(model, "sequence_length", None), getattr(model, "latent_dim", None))
    found = tuple(windows.element_spec.shape)
    if None not in expected and found != expected:
        raise ValueError(f"--data {spec}: windows are [chunks, dims] = {list(found)}, the model expects "
                         f"{list(expected)} (model.sequence_length, model.latent_dim); set them to match, or "
                         "choose the windows (latents.window_chunks, latents.kept_dims) to match the model")


def _save_scaler(spec: str, latent_config, workdir, scaler=None):
    """Writes WORKDIR/latent_scaling.json and returns the `LatentScaler` (`scaler`, or the one fit on the train
    split of `spec`); a different one already there (another data set or latents setting) stops the run instead of
    resuming a model trained on other scaling."""
    import pathlib

    from symdiff_tf.data.scaler import SCALER_FILENAME, LatentScaler
    from symdiff_tf.data.sources import opened_scaler

    scaler = scaler or opened_scaler(spec, latent_config)
    path = pathlib.Path(workdir) / SCALER_FILENAME
    saved = LatentScaler.load(path) if path.is_file() else None
    if saved is not None and saved != scaler:
        raise ValueError(f"{path}: this work directory was trained with other latent scaling ({saved.to_dict()}) "
                         f"than --data {spec} gives now ({scaler.to_dict()}); use a new --workdir")
    scaler.save(workdir)  # makes the folder; writes SCALER_FILENAME there
    return scaler


def _data_vae(spec: str, vae_path: str | None):
    """The MusicVAE whose latents `spec` holds: `--vae` when given (a bad file stops the run), else the file the
    dataset's builder recorded if it is at hand, else None (the run then records no VAE identity)."""
    from symdiff_tf import musicvae
    from symdiff_tf.data.tfds_spec import recorded_vae_path

    if vae_path is None:
        vae_path = recorded_vae_path(spec)
        if vae_path is None or not pathlib.Path(vae_path).is_file():
            logging.getLogger(__name__).warning("the MusicVAE of %s (%s) is not at hand: the run records no VAE "
                                                "identity; pass --vae FILE to record it", spec, vae_path)
            return None
    try:
        return musicvae.load(vae_path)
    except ValueError as err:
        raise ValueError(f"--vae {vae_path}: {err}") from err


def _checked_vae_identity(spec: str, vae, vae_path, allow_mismatch: bool) -> str | None:
    """The content hash of the VAE whose latents the run learns: the dataset's record, checked against `vae` (the
    `--vae` model, or the file the dataset names when `vae_path` is None) when both are known. A different `--vae`
    stops the run (it would decode the samples with a VAE that never made the latents) unless `allow_mismatch`,
    which warns instead; a file the dataset names that was replaced since the build is only warned about."""
    from symdiff_tf.data.tfds_spec import recorded_vae_hash, recorded_vae_path
    from symdiff_tf.musicvae.identity import vae_content_hash

    recorded = recorded_vae_hash(spec)
    given = vae_content_hash(vae) if vae is not None else None
    if recorded and given and recorded != given and vae_path is None:
        print(f"WARNING: {recorded_vae_path(spec)}, the MusicVAE file the latents of {spec} name, now holds another "
              f"VAE ({given}, the latents were made by {recorded}): not used; the run records {recorded}",
              file=sys.stderr, flush=True)
        return recorded
    if recorded and given and recorded != given:
        message = (f"--vae {vae_path}: content hash {given}, but the latents of {spec} were made by the VAE "
                   f"{recorded}")
        if not allow_mismatch:
            raise ValueError(message + "; pass that VAE (or --allow-vae-mismatch to go on anyway)")
        print(f"WARNING: {message}; going on because of --allow-vae-mismatch: the run records {recorded}",
              file=sys.stderr, flush=True)
    return recorded or given


def _pianoroll_renderer(vae, vae_path: str, scaler):
    """`render_samples` drawing piano rolls with `vae` (read from `vae_path`); a VAE of another latent size stops
    the run before training."""
    from symdiff_tf.evaluation.sample_pianorolls import pianoroll_renderer

    try:
        return pianoroll_renderer(vae, scaler)
    except ValueError as err:
        raise ValueError(f"--vae {vae_path}: {err}") from err
