"""The data seam: `--data SPEC` → a finite `tf.data.Dataset` of scaled latent windows `[32, k]` float32.

Accepted specs:
- `tfds:NAME/CONFIG[@DATA_DIR]`: a built latent config of `lakh_midi` (e.g. `tfds:lakh_midi/latents_HASH`),
  through `open_tfds_windows` with a `LatentDataConfig` (windows `[window_chunks, k]`); `train` is what the
  model trains on (the train split, plus `train_transposed` with `latents.transposed`); the `eval` split
  is the dataset's validation split (else test), scaled with the train statistics; `validation` and `test`
  name one;
- `PATH.npy`: an array `[N, 32, k]` (the training split; there is no validation split);
- `PATH.npz`: arrays named `train` and optionally `eval` (or `validation`); a single-array file is `train`;
- `synthetic:N` or `synthetic:N:k`: N smooth random windows with k dims (default 42) in [−1, 1], for tests.
  The `eval` split of a synthetic spec is 64 further windows from a different seed.
"""
import dataclasses
import pathlib

import numpy as np
import tensorflow as tf

from symdiff_tf.data.latent_config import LatentDataConfig, fixed_windows_config, training_split
from symdiff_tf.data.latent_windows import datasets_for_training, windows_dataset
from symdiff_tf.data.melody_latents import MelodyLatents
from symdiff_tf.data.scaler import LatentScaler
from symdiff_tf.data.tfds_spec import is_tfds_spec, open_builder
from symdiff_tf.errors import load_array, load_arrays

SEQUENCE_LENGTH = 32
SYNTHETIC_EVAL_SIZE = 64
SYNTHETIC_FREQUENCY_SEED = 0  # the toy distribution's per-dim frequencies


def synthetic_windows(num_windows: int, latent_dim: int = 42, seed: int = 0) -> np.ndarray:
    """Smooth, correlated windows `[num_windows, 32, latent_dim]` float32 in [−1, 1] (a learnable toy).

    Each dim is a sine of a fixed frequency (the same for every seed: one distribution) with a random phase, plus
    noise; `seed` draws the phases and the noise, so different seeds give held-out samples of that distribution.
    """
    frequency = np.random.default_rng(SYNTHETIC_FREQUENCY_SEED).uniform(0.05, 0.4, (1, 1, latent_dim))
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, (num_windows, 1, latent_dim))
    positions = np.arange(SEQUENCE_LENGTH, dtype=np.float64)[None, :, None]
    windows = 0.8 * np.sin(frequency * positions + phase) + 0.1 * rng.standard_normal(phase.shape)
    return np.clip(windows, -1.0, 1.0).astype(np.float32)


def check_windows(array, where: str) -> np.ndarray:
    """`array` as float32 windows `[N, 32, k]`; a ValueError naming `where` when it is not finite float windows."""
    array = np.asarray(array)
    if array.ndim != 3 or array.shape[1] != SEQUENCE_LENGTH or not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{where}: expected float windows [N, {SEQUENCE_LENGTH}, k], got {array.dtype} "
                         f"{array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{where}: contains NaN or infinite values")
    return array.astype(np.float32)


def load_window_array(spec: str, split: str = "train") -> np.ndarray | None:
    """The windows of `spec` for `split` ("train" or "eval") as an array, or None when the split is absent."""
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
    if spec.startswith("synthetic:"):
        parts = spec.split(":")[1:]
        try:
            num_windows = int(parts[0])
            latent_dim = int(parts[1]) if len(parts) > 1 else 42
        except (ValueError, IndexError):
            raise ValueError(f"--data {spec!r}: expected synthetic:N or synthetic:N:k") from None
        if split == "eval":
            return synthetic_windows(SYNTHETIC_EVAL_SIZE, latent_dim, seed=1)
        return synthetic_windows(num_windows, latent_dim, seed=0)
    path = pathlib.Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"--data {spec!r}: no such file (expected .npy, .npz or synthetic:N)")
    what = "scaled latent windows [n, 32, k] (float)"
    if path.suffix == ".npy":
        return check_windows(load_array(path, what), str(path)) if split == "train" else None
    if path.suffix == ".npz":
        arrays = load_arrays(path, what)
        if split == "train":
            name = "train" if "train" in arrays else (next(iter(arrays)) if len(arrays) == 1 else None)
            if name is None:
                raise ValueError(f"{path}: expected an array named 'train' (found {sorted(arrays)})")
        else:
            name = next((n for n in ("eval", "validation") if n in arrays), None)
            if name is None:
                return None
        return check_windows(arrays[name], f"{path}[{name}]")
    raise ValueError(f"--data {spec!r}: unsupported file type {path.suffix!r} (expected .npy or .npz)")


def open_windows(spec: str, split: str = "train", latent_config=None) -> tf.data.Dataset | None:
    """`--data SPEC` → a finite, fixed-order dataset of `[32, k]` float32 windows, or None if `split` is absent.

    `latent_config` (a `LatentDataConfig`, default its defaults) says how `tfds:` latents become windows; other
    specs ignore it.
    """
    if is_tfds_spec(spec):
        return open_tfds_windows(spec, split, latent_config)
    array = load_window_array(spec, split)
    return None if array is None else tf.data.Dataset.from_tensor_slices(array)


_OPENED = {}  # (spec, config) -> {"builder", "train", "scaler", split name: windows}: train is read once per process
EVAL_SPLITS = ("validation", "test")  # "eval" = the first of them the dataset has


class SplitExamples:
    """The per-melody examples of one split of a built TFDS dataset (or a sum of splits, "train+train_transposed"),
    as numpy dicts, with `len()` = the number of melodies its split info records, so that a progress bar over them
    (`MelodyLatents.from_examples`) knows its total."""

    def __init__(self, builder, split: str):
        self.dataset = builder.as_dataset(split=split)
        self.count = int(builder.info.splits[split].num_examples)

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        return self.dataset.as_numpy_iterator()


def _opened(spec: str, config: LatentDataConfig) -> dict:
    """The builder of `spec`, its training windows (`training_split`) and the scaler fit on them (read once per
    process)."""
    key = (spec, dataclasses.astuple(config))
    if key not in _OPENED:
        builder = open_builder(spec)
        training = SplitExamples(builder, training_split(builder, config))
        train_ds, _, scaler = datasets_for_training(training, config,
                                                    mean_sigma_per_dim=builder.info.metadata.get("mean_sigma_train"))
        _OPENED[key] = {"builder": builder, "train": train_ds, "scaler": scaler}
    return _OPENED[key]


def open_tfds_windows(spec: str, split: str = "train", config: LatentDataConfig | None = None):
    """The `--data` seam for built TFDS latents: `tfds:NAME/CONFIG[@DATA_DIR]` -> windows of `split`, or None.

    `split` is "train" (what the model trains on: the train split, plus `train_transposed` when
    `config.transposed`), "validation", "test", or "eval" (the dataset's validation split, else test: what
    training validates on). Held-out splits are scaled with the train statistics and made with
    `fixed_windows_config(config)` (the same windows every pass). NAME/CONFIG is a built latent config of
    `lakh_midi` (e.g. `tfds:lakh_midi/latents_HASH@~/tensorflow_datasets`); kept dims come from its metadata
    `mean_sigma_train`. `opened_scaler(spec)` gives the statistics to save beside the model.
    """
    if split not in ("train", "eval", *EVAL_SPLITS):
        raise ValueError(f"split must be 'train', 'eval', 'validation' or 'test', got {split!r}")
    config = config or LatentDataConfig()
    opened = _opened(spec, config)
    if split == "train":
        return opened["train"]
    name = held_out_split_name(opened["builder"], split)
    if name is None:
        return None
    if name not in opened:
        opened[name] = held_out_windows(opened["builder"], name, opened["scaler"], config)
    return opened[name]


def held_out_split_name(builder, split: str) -> str | None:
    """The split `split` ("validation", "test", or "eval": validation, else test) names in `builder`, or None."""
    available = set(builder.info.splits)
    name = next((s for s in EVAL_SPLITS if s in available), None) if split == "eval" else split
    return name if name in available else None


def held_out_windows(builder, name: str, scaler: LatentScaler, config: LatentDataConfig):
    """The windows of the held-out split `name`, scaled with the train `scaler`, the same every pass
    (`fixed_windows_config(config)`)."""
    examples = MelodyLatents.from_examples(SplitExamples(builder, name), dims=scaler.kept_dims)
    return windows_dataset(examples, scaler, fixed_windows_config(config))


def opened_scaler(spec: str, config: LatentDataConfig | None = None) -> LatentScaler:
    """The scaler `open_tfds_windows(spec)` fit on its training windows, to `save` beside the model."""
    return _opened(spec, config or LatentDataConfig())["scaler"]
