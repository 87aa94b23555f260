"""Latent input pipeline: per-melody MusicVAE posteriors -> scaled training windows (original.md §1.4–§1.7).

The dataset (`tfds_lakh`, config with a VAE) stores, per melody, `mu` and `sigma` `[n_chunks, z_size]` and the
rest flags `[n_chunks]` (rest chunks carry all-zero `mu` and `sigma`, as the original's zero latents). This
module turns those into what the diffusion trainer eats: a `tf.data.Dataset` of float32 windows
`[window_chunks, n_kept]` scaled to [-1, 1].

Steps, and where we differ from the original (docs/deviations.md):
- Windows: `window_chunks` consecutive chunks (32 as the paper; 16 also used) every `stride` chunks, start
  indices from `symdiff_tf.melody.windows` (no off-by-one, no missed rest at position 0). Windows holding a
  rest chunk are dropped unless `allow_rests` (then the rest is a zero latent, as the original).
- z: `z_mode="sample"` (default) draws z ~ N(mu, sigma) afresh for every window each epoch; `"fixed"` draws
  one sample per chunk once, with the seed (the original stored one unseeded sample); `"mu"` uses the mean.
- Kept dims: those whose mean sigma over train is below `sigma_threshold` (paper: 1.0), or the explicit list
  `kept_dims` (the paper's 42 are `PAPER_KEPT_DIMS`). Gathered before scaling, as the original.
- Scaling: x' = 2 (x - min) / (max - min) - 1 with one scalar min and max over all kept dims, positions and
  train windows (the original also normalised eval with eval statistics: `LatentScaler.fit` on eval data gives
  that, see `datasets_for_training(eval_statistics="own")`). The statistics are saved as a small JSON beside
  the model (`LatentScaler.save`, file name `SCALER_FILENAME`).
- Inverse: unscale, then refill the dropped dims with N(0, 1) noise (original, `fill="noise"`) or zeros
  (`fill="zeros"`), seeded.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Iterable

import numpy as np

from symdiff_tf.melody.windows import window_starts

# original.md §1.5: `slice-mel-512.pkl`, the 42 dims of cat-mel_2bar_big kept by the paper.
PAPER_KEPT_DIMS = (
    12, 14, 24, 36, 41, 62, 73, 135, 154, 156, 167, 175, 177, 182, 187, 199, 202, 211, 216, 226, 245, 248,
    262, 266, 270, 283, 294, 298, 345, 367, 370, 371, 377, 384, 387, 458, 471, 473, 476, 480, 482, 483,
)
SCALER_FILENAME = "latent_scaling.json"
Z_MODES = ("sample", "fixed", "mu")
FILLS = ("noise", "zeros")


@dataclasses.dataclass
class LatentDataConfig:
    """How per-melody latents become training windows (YAML section `latents`).

    Args:
        window_chunks: chunks per window (2 bars each): 32 = 64 bars as the paper, 16 = 32 bars.
        stride: chunks between consecutive window starts (the original: 1).
        allow_rests: keep windows that hold rest chunks (zero latents). The original meant to drop them.
        original_window_bugs: reproduce the original's window off-by-one and its blind spot for a rest at
            position 0 (original.md §1.4; `symdiff_tf.melody.windows`). Default False.
        z_mode: "sample" (z ~ N(mu, sigma) afresh each epoch, default), "fixed" (one seeded sample per chunk,
            as the original's stored z), or "mu".
        kept_dims: explicit latent dims to keep (e.g. `PAPER_KEPT_DIMS`); None selects by `sigma_threshold`.
        sigma_threshold: keep dims whose mean posterior sigma over train is below this (paper: 1.0).
        fill: what the inverse puts in the dropped dims: "noise" (N(0, 1), original) or "zeros".
        shuffle: shuffle windows (reshuffled every epoch, seeded). Off by default: `symdiff_tf.training` wants a
            fixed order and shuffles per epoch itself (so that it can resume at a data position).
        seed: seed for z sampling, shuffling and the fixed sample.
    """

    window_chunks: int = 32
    stride: int = 1
    allow_rests: bool = False
    original_window_bugs: bool = False
    z_mode: str = "sample"
    kept_dims: tuple[int, ...] | None = None
    sigma_threshold: float = 1.0
    fill: str = "noise"
    shuffle: bool = False
    seed: int = 0

    def __post_init__(self):
        if self.kept_dims is not None:  # a YAML list: hashable and comparable like the tuple
            self.kept_dims = tuple(int(d) for d in self.kept_dims)
        if self.z_mode not in Z_MODES:
            raise ValueError(f"latents.z_mode={self.z_mode!r}: expected one of {Z_MODES}")
        if self.fill not in FILLS:
            raise ValueError(f"latents.fill={self.fill!r}: expected one of {FILLS}")
        if self.window_chunks < 1 or self.stride < 1:
            raise ValueError(f"latents: window_chunks and stride must be >= 1, got {self.window_chunks}, "
                             f"{self.stride}")


@dataclasses.dataclass
class MelodyLatents:
    """Per-melody posteriors in memory: lists of `mu`, `sigma` `[n_chunks, n_columns]` and `rests` `[n_chunks]`.

    `dims` names the latent index of each column when only some dims were read (`from_examples(dims=...)`,
    which keeps memory at k/z_size of the full latents), None when all `z_size` dims are held.
    """

    mu: list[np.ndarray]
    sigma: list[np.ndarray]
    rests: list[np.ndarray]
    dims: tuple[int, ...] | None = None
    full_z_size: int | None = None

    @classmethod
    def from_examples(cls, examples, dims=None) -> "MelodyLatents":
        """Reads per-melody examples (dicts with `mu`, `sigma`, `rests`), keeping only latent `dims` if given.

        `examples` is what `tfds.load("lakh_midi/<latent config>", split=...)` or `builder.as_dataset(split)`
        returns (a `tf.data.Dataset`), or any iterable of such dicts holding numpy arrays.
        """
        import tqdm

        if hasattr(examples, "as_numpy_iterator"):
            examples = examples.as_numpy_iterator()
        columns = None if dims is None else np.asarray(sorted(int(d) for d in dims), np.int64)
        mu, sigma, rests, full_z_size = [], [], [], None
        for index, example in enumerate(tqdm.tqdm(examples, desc="reading latents", unit=" melodies",
                                                  leave=False, mininterval=2.0)):
            missing = {"mu", "sigma", "rests"} - set(example)
            if missing:
                raise ValueError(f"example {index}: missing {sorted(missing)}; a latent config of lakh_midi "
                                 "(built with a MusicVAE) is needed, the `tokens` config has no latents")
            example_mu = np.asarray(example["mu"], np.float32)
            full_z_size = example_mu.shape[-1]
            take = slice(None) if columns is None else columns
            mu.append(example_mu[:, take])
            sigma.append(np.asarray(example["sigma"], np.float32)[:, take])
            rests.append(np.asarray(example["rests"], bool))
        if columns is not None and full_z_size is not None and columns.max(initial=-1) >= full_z_size:
            raise ValueError(f"dims {columns.tolist()} do not fit latents of size {full_z_size}")
        return cls(mu, sigma, rests, None if columns is None else tuple(columns.tolist()), full_z_size)

    @property
    def z_size(self) -> int:
        """Size of the full latent (512 for cat-mel_2bar_big), also when only some dims are held."""
        if self.full_z_size is not None:
            return int(self.full_z_size)
        if not self.mu:
            raise ValueError("no melodies: the split is empty")
        return int(self.mu[0].shape[-1])

    def columns(self, latent_dims) -> np.ndarray:
        """Column indices holding latent dims `latent_dims`; an error names the dims that were not read."""
        latent_dims = np.asarray(latent_dims, np.int64)
        if self.dims is None:
            return latent_dims
        position = {d: i for i, d in enumerate(self.dims)}
        absent = [int(d) for d in latent_dims if int(d) not in position]
        if absent:
            raise ValueError(f"latent dims {absent} were not read (read: {list(self.dims)})")
        return np.asarray([position[int(d)] for d in latent_dims], np.int64)

    def __len__(self) -> int:
        return len(self.mu)


def mean_sigma(latents: MelodyLatents) -> np.ndarray:
    """Mean posterior sigma per latent dim `[z_size]` over all non-rest chunks (paper Appendix C)."""
    if latents.dims is not None:
        raise ValueError("mean sigma per dim needs all latent dims: read the examples without `dims`")
    total = np.zeros(latents.z_size, np.float64)
    count = 0
    for sigma, rests in zip(latents.sigma, latents.rests):
        total += sigma[~rests].sum(axis=0)
        count += int((~rests).sum())
    if count == 0:
        raise ValueError("no non-rest chunks to average sigma over")
    return (total / count).astype(np.float32)


def select_kept_dims(mean_sigma_per_dim, threshold: float = 1.0) -> np.ndarray:
    """Indices (sorted, int64) of the dims whose mean sigma is below `threshold` (paper: 1.0)."""
    kept = np.flatnonzero(np.asarray(mean_sigma_per_dim) < threshold)
    if kept.size == 0:
        raise ValueError(f"no latent dim has mean sigma below {threshold}: lower-variance dims are needed to "
                         "train on; pass kept_dims explicitly or raise sigma_threshold")
    return kept.astype(np.int64)


def melody_window_starts(latents: MelodyLatents, window_chunks: int, stride: int, allow_rests: bool,
                         original_bugs: bool = False):
    """Window starts as (melody index `[W]`, start chunk `[W]`), int64, in melody order
    (`symdiff_tf.melody.windows.window_starts` for each melody)."""
    melody_ids, starts = [], []
    for index, rests in enumerate(latents.rests):
        found = window_starts(len(rests), window_chunks, stride=stride, rests=rests, allow_rests=allow_rests,
                              original_bugs=original_bugs)
        melody_ids.extend([index] * len(found))
        starts.extend(found)
    return np.asarray(melody_ids, np.int64), np.asarray(starts, np.int64)


@dataclasses.dataclass
class _FlatLatents:
    """All melodies concatenated over chunks, kept dims only, as `z_mode` trains on them: `mu` `[total_chunks,
    n_kept]` (for z_mode "fixed" already the one seeded draw per chunk), `sigma` (same shape, for z_mode
    "sample"; None for "fixed" and "mu"), and the flat start index of every window `[W]`."""

    mu: np.ndarray
    sigma: np.ndarray | None
    window_offsets: np.ndarray


def _flatten(latents: MelodyLatents, kept_dims: np.ndarray, config: LatentDataConfig) -> _FlatLatents:
    """`latents` as `_FlatLatents` of the latent dims `kept_dims` `[n_kept]`, for the windows and z_mode of
    `config`."""
    melody_ids, starts = melody_window_starts(latents, config.window_chunks, config.stride, config.allow_rests,
                                              config.original_window_bugs)
    lengths = np.asarray([len(r) for r in latents.rests], np.int64)
    melody_offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    n_kept = len(kept_dims)
    columns = latents.columns(kept_dims)
    mu = np.concatenate([m[:, columns] for m in latents.mu]) if len(latents) else np.zeros((0, n_kept))
    sigma = np.concatenate([s[:, columns] for s in latents.sigma]) if len(latents) else np.zeros((0, n_kept))
    mu, sigma = mu.astype(np.float32), sigma.astype(np.float32)
    if config.z_mode == "fixed":
        mu = _fixed_sample(mu, sigma, config.seed)
    return _FlatLatents(mu, sigma if config.z_mode == "sample" else None, melody_offsets[melody_ids] + starts)


def _fixed_sample(mu: np.ndarray, sigma: np.ndarray, seed: int) -> np.ndarray:
    """One z per chunk `[total_chunks, n_kept]`, z = mu + sigma * eps, seeded (the original's stored sample,
    §1.3)."""
    eps = np.random.default_rng(seed).standard_normal(mu.shape).astype(np.float32)
    return mu + sigma * eps


@dataclasses.dataclass
class LatentScaler:
    """Kept dims plus the scalar min/max that map them to [-1, 1] (original.md §1.5–§1.7).

    Args:
        kept_dims: sorted latent indices kept for the diffusion model, `[n_kept]`.
        z_size: size of the full latent (512 for cat-mel_2bar_big).
        minimum, maximum: one scalar each, over all kept dims, positions and windows of the data it was fit on.
        fit_on: what the statistics were computed on (e.g. "train"), for the record.
    """

    kept_dims: tuple[int, ...]
    z_size: int
    minimum: float
    maximum: float
    fit_on: str = "train"

    def __post_init__(self):
        self.kept_dims = tuple(int(d) for d in self.kept_dims)
        if not self.maximum > self.minimum:
            raise ValueError(f"latent scaler: max ({self.maximum}) must exceed min ({self.minimum})")
        if any(d < 0 or d >= self.z_size for d in self.kept_dims):
            raise ValueError(f"latent scaler: kept dims must lie in [0, {self.z_size})")

    @classmethod
    def fit(cls, latents: MelodyLatents, config: LatentDataConfig, kept_dims=None, fit_on: str = "train",
            mean_sigma_per_dim=None) -> "LatentScaler":
        """Chooses the kept dims and computes min/max over the windows `config` makes from `latents`.

        Kept dims: `kept_dims` if given, else `config.kept_dims`, else those of `mean_sigma_per_dim` (e.g. the
        builder's metadata `mean_sigma_train`; computed from `latents` when None) below `config.sigma_threshold`.
        The min/max cover every chunk inside at least one window, with the values `config.z_mode` trains on;
        for "sample" that is one seeded draw, so later epochs' draws may fall slightly outside [-1, 1].
        """
        return _fit_scaler(latents, config, kept_dims, fit_on, mean_sigma_per_dim)[0]

    def scale(self, kept_latents):
        """`[..., n_kept]` raw latents (kept dims only) -> [-1, 1]. Works on numpy arrays and tensors."""
        return 2.0 * (kept_latents - self.minimum) / (self.maximum - self.minimum) - 1.0

    def unscale(self, scaled):
        """Inverse of `scale`: `[..., n_kept]` in [-1, 1] -> raw latent values."""
        return (scaled + 1.0) / 2.0 * (self.maximum - self.minimum) + self.minimum

    def inverse(self, scaled, fill: str = "noise", seed: int | None = 0) -> np.ndarray:
        """`[..., n_kept]` scaled model output -> `[..., z_size]` latents for the MusicVAE decoder (§1.7).

        The dropped dims get N(0, 1) noise (`fill="noise"`, the original, seeded) or zeros (`fill="zeros"`).
        """
        if fill not in FILLS:
            raise ValueError(f"fill={fill!r}: expected one of {FILLS}")
        scaled = np.asarray(scaled, np.float32)
        if scaled.shape[-1] != len(self.kept_dims):
            raise ValueError(f"expected last dim {len(self.kept_dims)} (kept dims), got shape {scaled.shape}")
        shape = scaled.shape[:-1] + (self.z_size,)
        if fill == "noise":
            full = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
        else:
            full = np.zeros(shape, np.float32)
        full[..., list(self.kept_dims)] = self.unscale(scaled)
        return full

    def to_dict(self) -> dict:
        return {"kept_dims": list(self.kept_dims), "z_size": self.z_size, "minimum": self.minimum,
                "maximum": self.maximum, "fit_on": self.fit_on}

    def save(self, path) -> pathlib.Path:
        """Writes the statistics as JSON; `path` is a `.json` file, or a folder (made if needed; then
        `SCALER_FILENAME` inside it)."""
        path = pathlib.Path(path)
        if path.suffix != ".json":
            path.mkdir(parents=True, exist_ok=True)
            path = path / SCALER_FILENAME
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path) -> "LatentScaler":
        """Reads what `save` wrote (a `.json` file, or a folder holding `SCALER_FILENAME`)."""
        path = pathlib.Path(path)
        if path.suffix != ".json":
            path = path / SCALER_FILENAME
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no latent scaling statistics (written by LatentScaler.save)")
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
            return cls(**values)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{path}: not a latent scaling JSON: {err}") from err


def _fit_scaler(latents: MelodyLatents, config: LatentDataConfig, kept_dims, fit_on: str, mean_sigma_per_dim):
    """`LatentScaler.fit`, returning (scaler, the `_FlatLatents` it was fit on) so that `_windows` can reuse them."""
    if kept_dims is None:
        kept_dims = config.kept_dims
    if kept_dims is None:
        if mean_sigma_per_dim is None:
            mean_sigma_per_dim = mean_sigma(latents)
        kept_dims = select_kept_dims(mean_sigma_per_dim, config.sigma_threshold)
    kept_dims = np.asarray(sorted(kept_dims), np.int64)
    flat = _flatten(latents, kept_dims, config)
    if flat.window_offsets.size == 0:
        raise ValueError(f"no {config.window_chunks}-chunk windows in the {fit_on} data "
                         f"(allow_rests={config.allow_rests}): nothing to compute scaling statistics on")
    covered = np.zeros(len(flat.mu), bool)
    for offset in range(config.window_chunks):
        covered[flat.window_offsets + offset] = True
    values = flat.mu if flat.sigma is None else _fixed_sample(flat.mu, flat.sigma, config.seed)
    values = values[covered]
    scaler = LatentScaler(tuple(kept_dims), latents.z_size, float(values.min()), float(values.max()), fit_on)
    return scaler, flat


def fixed_windows_config(config: LatentDataConfig) -> LatentDataConfig:
    """`config` for windows that are the same on every pass (eval data, `symdiff evaluate`): z_mode "fixed"
    (one seeded draw per chunk) unless "mu", and no shuffling. Fit on train, it gives the same `LatentScaler` as
    `config` (min/max of "sample" and "fixed" both come from the seeded draw)."""
    return dataclasses.replace(config, z_mode="mu" if config.z_mode == "mu" else "fixed", shuffle=False)


def windows_dataset(latents: MelodyLatents, scaler: LatentScaler, config: LatentDataConfig):
    """A `tf.data.Dataset` of float32 windows `[config.window_chunks, n_kept]` in [-1, 1] (unbatched).

    With `z_mode="sample"` every window gets a fresh z ~ N(mu, sigma) each time the dataset is iterated (each
    epoch, also under `.repeat()`), from stateless draws seeded by `config.seed`: the same seed gives the same
    sequence of epochs. Shuffling (if `config.shuffle`) is over all windows, reshuffled every epoch.
    """
    if latents.z_size != scaler.z_size:
        raise ValueError(f"latents have z_size {latents.z_size}, the scaler expects {scaler.z_size}")
    return _windows(_flatten(latents, np.asarray(scaler.kept_dims, np.int64), config), scaler, config)


def _windows(flat: _FlatLatents, scaler: LatentScaler, config: LatentDataConfig):
    """`windows_dataset` of latents that `_flatten` made with `scaler.kept_dims` and `config`."""
    import tensorflow as tf

    length, n_kept = config.window_chunks, len(scaler.kept_dims)
    sigma = None if flat.sigma is None else tf.constant(flat.sigma)
    mu = tf.constant(flat.mu if sigma is not None else scaler.scale(flat.mu).astype(np.float32))

    offsets = tf.data.Dataset.from_tensor_slices(flat.window_offsets)
    if config.shuffle and flat.window_offsets.size:
        offsets = offsets.shuffle(flat.window_offsets.size, seed=config.seed, reshuffle_each_iteration=True)
    if sigma is None:
        def window(offset):
            return tf.ensure_shape(mu[offset:offset + length], [length, n_kept])

        return offsets.map(window, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    draw_seeds = tf.data.Dataset.random(seed=config.seed, rerandomize_each_iteration=True)

    def sampled_window(offset, draw_seed):
        eps = tf.random.stateless_normal([length, n_kept], seed=tf.stack([draw_seed, offset]))
        z = mu[offset:offset + length] + sigma[offset:offset + length] * eps
        return tf.ensure_shape(tf.cast(scaler.scale(z), tf.float32), [length, n_kept])

    return tf.data.Dataset.zip(offsets, draw_seeds).map(
        sampled_window, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def datasets_for_training(train, config: LatentDataConfig, evaluation=None, mean_sigma_per_dim=None,
                          eval_statistics: str = "train"):
    """One call from built data to what the trainer needs: `(train_ds, eval_ds or None, scaler)`.

    Args:
        train, evaluation: per-melody examples (`tfds.load(...)` / `builder.as_dataset(split)` results, or a
            `MelodyLatents`).
        mean_sigma_per_dim: `[z_size]` mean sigma over train (the builder's `info.metadata["mean_sigma_train"]`);
            computed from `train` when None.
        eval_statistics: "train" (default: eval scaled with train min/max) or "own" (the original: eval scaled
            with its own min/max, original.md §1.6).
    The eval dataset uses `z_mode` "fixed" and no shuffling, so its windows are the same every pass.
    """
    if eval_statistics not in ("train", "own"):
        raise ValueError(f"eval_statistics={eval_statistics!r}: expected 'train' or 'own'")
    kept_dims = config.kept_dims
    if kept_dims is None and mean_sigma_per_dim is not None:
        kept_dims = select_kept_dims(mean_sigma_per_dim, config.sigma_threshold)
    # with the kept dims known up front, only those are read into memory
    train = train if isinstance(train, MelodyLatents) else MelodyLatents.from_examples(train, dims=kept_dims)
    scaler, flat = _fit_scaler(train, config, kept_dims, "train", mean_sigma_per_dim)
    train_ds = _windows(flat, scaler, config)
    eval_ds = None
    if evaluation is not None:
        evaluation = evaluation if isinstance(evaluation, MelodyLatents) else MelodyLatents.from_examples(
            evaluation, dims=scaler.kept_dims)
        eval_config = fixed_windows_config(config)
        if eval_statistics == "own":
            eval_scaler, eval_flat = _fit_scaler(evaluation, eval_config, scaler.kept_dims, "eval", None)
            eval_ds = _windows(eval_flat, eval_scaler, eval_config)
        else:
            eval_ds = windows_dataset(evaluation, scaler, eval_config)
    return train_ds, eval_ds, scaler


def count_windows(rests_per_melody: Iterable[np.ndarray], config: LatentDataConfig) -> int:
    """Number of windows `config` makes from melodies with these rest flags."""
    return sum(len(window_starts(len(r), config.window_chunks, stride=config.stride, rests=np.asarray(r, bool),
                                 allow_rests=config.allow_rests, original_bugs=config.original_window_bugs))
               for r in rests_per_melody)


_OPENED = {}  # spec -> (train_ds, eval_ds, scaler): the train statistics are computed once per process


def open_tfds_windows(spec: str, split: str = "train", config: LatentDataConfig | None = None):
    """The `--data` seam for built TFDS latents: `tfds:NAME/CONFIG[@DATA_DIR]` -> windows of `split`, or None.

    `split` is "train" or "eval" (the dataset's "validation" split, else "test"). NAME/CONFIG is a built latent
    config of `lakh_midi` (e.g. `tfds:lakh_midi/latents_cat_mel_2bar_big@~/tensorflow_datasets`); kept dims come
    from its metadata `mean_sigma_train`. `opened_scaler(spec)` gives the statistics to save beside the model.
    """
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
    config = config or LatentDataConfig()
    key = (spec, dataclasses.astuple(config))
    if key not in _OPENED:
        from symdiff_tf.tfds_spec import open_builder

        builder = open_builder(spec)
        splits = set(builder.info.splits)
        eval_split = next((s for s in ("validation", "test") if s in splits), None)
        _OPENED[key] = datasets_for_training(
            builder.as_dataset(split="train"), config,
            evaluation=builder.as_dataset(split=eval_split) if eval_split else None,
            mean_sigma_per_dim=builder.info.metadata.get("mean_sigma_train"))
    train_ds, eval_ds, _ = _OPENED[key]
    return train_ds if split == "train" else eval_ds


def opened_scaler(spec: str, config: LatentDataConfig | None = None) -> LatentScaler:
    """The scaler `open_tfds_windows(spec)` fit on train, to `save` beside the model."""
    config = config or LatentDataConfig()
    key = (spec, dataclasses.astuple(config))
    if key not in _OPENED:
        open_tfds_windows(spec, "train", config)
    return _OPENED[key][2]
