"""Where the repository and the shared data live (used by tests, benchmarks and the demo)."""
import os
import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def shared_data_dir() -> pathlib.Path:
    """The folder of real MIDI that this project reads but never ships.

    `$SYMDIFF_SHARED_DATA` if set, else `../shared/data` beside the checkout.
    """
    return pathlib.Path(os.environ.get("SYMDIFF_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def default_model_root() -> pathlib.Path:
    """The folder of the shipped default model's numbered bundle versions: `saved_models/default` in the checkout."""
    return REPO_ROOT / "saved_models" / "default"
