"""The `symdiff` command. Each subcommand lives in `symdiff_tf/commands/<name>.py` and exposes
`register(subparsers)`, which adds its parser and sets `func` to a `run(args) -> int`.

Command modules import TensorFlow only inside `run`, so `symdiff --help` and `symdiff melodies` stay fast.
"""
import argparse
import importlib
import sys

# subcommand name -> module under symdiff_tf.commands
COMMANDS = {
    "train": "train",
    "sample": "sample",
    "infill": "infill",
    "describe": "describe",
    "melodies": "melodies",
    "import-magenta": "import_magenta",
    "train-vae": "train_vae",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symdiff",
        description="Long melodies with a diffusion model over MusicVAE latents (Mittal et al., ISMIR 2021).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMANDS.values():
        importlib.import_module(f"symdiff_tf.commands.{module_name}").register(subparsers)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
