"""The `symdiff` command. Each subcommand lives in `symdiff_tf/commands/<name>.py` and exposes
`register(subparsers)`, which adds its parser and sets `func` to a `run(args) -> int`.

Only the module of the command being run is imported (all of them for `symdiff --help`), so a command that
needs no TensorFlow, such as `symdiff melodies`, never pays for importing it.
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
    "evaluate": "evaluate",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser, with every subcommand, or only `command` when it names one."""
    parser = argparse.ArgumentParser(
        prog="symdiff",
        description="Long melodies with a diffusion model over MusicVAE latents (Mittal et al., ISMIR 2021).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        if command in COMMANDS and name != command:
            continue
        importlib.import_module(f"symdiff_tf.commands.{module_name}").register(subparsers)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
