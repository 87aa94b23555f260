"""What counts as the user's mistake, and reading the user's array files with errors that say what was wrong.

Every "bad input" error of the project is a `ValueError` (or an `OSError` such as a missing file) raised by our
own code with a message that names the input: `symdiff_tf.cli` prints those as one line, without a traceback.
An error raised inside a library (numpy, TensorFlow, Keras) is not ours to explain and counts as a bug, so a
user's file is checked where it is read: `load_array` is the one place that opens a `.npy` / `.npz`.
"""
from __future__ import annotations

import pathlib
import traceback

import numpy as np

_OUR_PACKAGES = tuple(str(pathlib.Path(__file__).resolve().parent.parent / name) for name in ("symdiff_tf",
                                                                                             "tfds_lakh"))


def is_input_error(err: BaseException) -> bool:
    """True when `err` is a ValueError or OSError raised by the project's own code (the innermost frame of its
    traceback lies in `symdiff_tf/` or `tfds_lakh/`): a bad input with a message for the user."""
    if not isinstance(err, (ValueError, OSError)):
        return False
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and str(pathlib.Path(frames[-1].filename).resolve()).startswith(_OUR_PACKAGES)


def load_arrays(path, what: str) -> dict | np.ndarray:
    """Everything in the numpy file `path`: the array of a `.npy`, or a dict name -> array of a `.npz`.

    `what` says what the file should hold (e.g. "scaled latents [B, 32, k]"); every failure is a ValueError
    naming the file and `what`: a missing file, another format, pickled objects.
    """
    path = pathlib.Path(path)
    expected = f"expected a .npy or .npz file of {what}"
    if not path.is_file():
        raise ValueError(f"{path}: no such file ({expected})")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return loaded
        with loaded:
            return {name: loaded[name] for name in loaded.files}
    except ValueError:  # numpy's own words speak of pickles and allow_pickle, which is not the user's problem
        raise ValueError(f"{path}: {expected}, but it is not a numpy array file") from None
    except (OSError, EOFError, KeyError) as err:
        raise ValueError(f"{path}: {expected}; it could not be read ({err})") from None


def load_array(path, what: str, keys: tuple = ()) -> np.ndarray:
    """The array of a `.npy` file, or of a `.npz`: the first of `keys` it holds, else its only array.

    Failures are ValueErrors naming the file and `what` (see `load_arrays`), also for a `.npz` without such a key.
    """
    loaded = load_arrays(path, what)
    if isinstance(loaded, np.ndarray):
        return loaded
    key = next((k for k in keys if k in loaded), next(iter(loaded)) if len(loaded) == 1 else None)
    if key is None:
        wanted = f"an array named {' or '.join(map(repr, keys))}" if keys else "a single array"
        raise ValueError(f"{path}: expected {wanted} of {what}; it holds {sorted(loaded)}")
    return loaded[key]
