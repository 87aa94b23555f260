"""The `symdiff` command line: `main` (the entry point), `terminal` (keeping library noise off the terminal) and
one module per subcommand in `commands/`. Importing this package is cheap: a subcommand's module is imported only
when it runs."""
from symdiff_tf.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
