"""`symdiff train --config FILE --data SPEC [--model ddpm|mdn] [--strategy ...] [--workdir DIR]`.

Trains a registered model (`symdiff_tf.models`) with `symdiff_tf.training.train`; running the same command
again resumes from the last checkpoint in the work directory, at the same step and data position.
"""
import logging

from symdiff_tf.distribute import STRATEGIES


def register(subparsers):
    parser = subparsers.add_parser(
        "train", help="train the diffusion model (or another registered model) on latent windows",
        description="Trains a model on scaled latent windows [N, 32, k]; resumable (rerun the same command).")
    parser.add_argument("--config", required=True, help="YAML config file (e.g. configs/paper.yaml)")
    parser.add_argument("--data", required=True, help="training windows: FILE.npy, FILE.npz or synthetic:N[:k]")
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
                        help="override a config value, e.g. ddpm.train.batch_size=32 (repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from symdiff_tf.config import to_dict
    from symdiff_tf.data import open_windows
    from symdiff_tf.distribute import get_strategy, split_cpu
    from symdiff_tf.models import get_spec, load_model_config
    from symdiff_tf.training import train

    if args.cpu_devices:
        split_cpu(args.cpu_devices)
    spec = get_spec(args.model)
    config = load_model_config(args.model, args.config, args.overrides)
    strategy = get_strategy(args.strategy, args.tpu)
    train_windows = open_windows(args.data, "train")
    val_windows = open_windows(args.val_data or args.data, "train" if args.val_data else "eval")
    workdir = args.workdir or f"runs/{args.model}"
    resolved = {args.model: to_dict(config), "data": args.data, "val_data": args.val_data,
                "strategy": args.strategy, "num_replicas": strategy.num_replicas_in_sync}
    history = train(lambda: spec.build_task(config), train_windows, config.train, workdir, strategy,
                    val_windows=val_windows, resolved_config=resolved, max_steps=args.max_steps,
                    progress=not args.no_progress)
    if history:
        last = history[-1]
        print(f"step {last['step']} loss {last.get('loss', float('nan')):.6f} workdir {workdir}")
    return 0
