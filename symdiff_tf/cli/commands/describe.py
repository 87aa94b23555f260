"""`symdiff describe --config FILE`: one line per registered model in the config, exactly `NAME params=N`."""


def register(subparsers):
    parser = subparsers.add_parser(
        "describe", help="print the parameter count of each model in a config file",
        description="Builds every registered model that has a section in the config file and prints one line "
                    "per model: NAME params=N.")
    parser.add_argument("--config", required=True, help="YAML config file (e.g. configs/paper.yaml)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from symdiff_tf.config import load_yaml
    from symdiff_tf.training.registry import MODELS, get_spec, load_model_config

    sections = load_yaml(args.config)
    for name in MODELS:
        if name not in sections:
            continue
        task = get_spec(name).build_task(load_model_config(name, args.config))
        print(f"{name} params={task.model.count_params()}")
    return 0
