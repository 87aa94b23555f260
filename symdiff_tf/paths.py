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
    """The folder of the shipped default model's numbered bundle versions.

    An installed wheel carries it as `symdiff_tf/default_model/` (setup.py packs `saved_models/default/README.md`
    and its highest version there, as package data); in the checkout (an editable install) it is
    `saved_models/default`. No network: the model travels inside the package.
    """
    packaged = pathlib.Path(__file__).resolve().parent / "default_model"
    return packaged if packaged.is_dir() else REPO_ROOT / "saved_models" / "default"
