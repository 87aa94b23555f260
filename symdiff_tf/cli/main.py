"""The `symdiff` command. Each subcommand lives in `symdiff_tf/cli/commands/<name>.py` and exposes
`register(subparsers)`, which adds its parser and sets `func` to a `run(args) -> int`.

Only the module of the command being run is imported (all of them for `symdiff --help`), so a command that
needs no TensorFlow, such as `symdiff melodies`, never pays for importing it.
"""
import argparse
import importlib
import sys
import traceback

# subcommand name -> module under symdiff_tf.cli.commands
COMMANDS = {
    "train": "train",
    "sample": "sample",
    "infill": "infill",
    "describe": "describe",
    "melodies": "melodies",
    "import-magenta": "import_magenta",
    "train-vae": "train_vae",
    "evaluate": "evaluate",
    "kept-dims": "kept_dims",
    "export": "export",
    "extract-vae": "extract_vae",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser, with every subcommand, or only `command` when it names one."""
    parser = argparse.ArgumentParser(
        prog="symdiff",
        description="Long melodies with a diffusion model over MusicVAE latents (Mittal et al., ISMIR 2021).",
        epilog="Every command also takes --verbose: TensorFlow's log lines and the traceback of a bad input. "
               "Exit codes: 0 done, 1 bad input, 2 bad usage, 3 a bug (with its traceback).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        if command in COMMANDS and name != command:
            continue
        importlib.import_module(f"symdiff_tf.cli.commands.{module_name}").register(subparsers)
    return parser


EXIT_BAD_INPUT = 1  # the user's mistake, told in one line (argparse's usage errors exit with 2)
EXIT_BUG = 3  # an unexpected error: the traceback is shown


def main(argv=None) -> int:
    """Runs one subcommand; returns its exit code (0 done, 1 bad input, 2 bad usage, 3 a bug).

    A bad input (`symdiff_tf.errors.is_input_error`) is printed as `symdiff COMMAND: message`; with `--verbose`
    (or `SYMDIFF_VERBOSE=1`) its traceback is shown too. Called as the `symdiff` program (argv None), TensorFlow's
    start-up noise is kept off the terminal unless verbose (`symdiff_tf.cli.terminal`).
    """
    import os

    from symdiff_tf.errors import is_input_error

    as_program = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    verbose = "--verbose" in argv or os.environ.get("SYMDIFF_VERBOSE", "") not in ("", "0")
    argv = [arg for arg in argv if arg != "--verbose"]
    if as_program and not verbose:
        from symdiff_tf.cli.terminal import quiet_stderr

        quiet_stderr()
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"symdiff {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - sorted into the user's mistakes and bugs below
        if is_input_error(err):
            if verbose:
                traceback.print_exc()
            print(f"symdiff {args.command}: {err}", file=sys.stderr)
            return EXIT_BAD_INPUT
        traceback.print_exc()
        print(f"symdiff {args.command}: unexpected {type(err).__name__} (a bug in symdiff): please report it "
              "with the traceback above", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
