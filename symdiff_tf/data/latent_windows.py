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
- Kept dims: those whose mean sigma over train is below `sigma_threshold` (paper: 1.0), the `kept_top_k` with
  the smallest mean sigma, or the explicit list `kept_dims` (the paper's 42 are `PAPER_KEPT_DIMS`). Gathered
  before scaling, as the original.
- Scaling: x' = 2 (x - min) / (max - min) - 1 with one scalar min and max over all kept dims, positions and
  train windows (the original also normalised eval with eval statistics: `fit_scaler` on eval data gives
  that, see `datasets_for_training(eval_statistics="own")`). The statistics are saved as a small JSON beside
  the model (`LatentScaler.save`, file name `scaler.SCALER_FILENAME`).
- Inverse: unscale, then refill the dropped dims with N(0, 1) noise (original, `fill="noise"`) or zeros
  (`fill="zeros"`), seeded (`LatentScaler.inverse`).

The pieces: `latent_config` (the `latents:` section), `melody_latents` (posteriors in memory, kept-dim choice),
`scaler` (`LatentScaler` and its JSON), this module (windows, `fit_scaler`, the datasets), `sources` (the
`--data` seam, with `open_tfds_windows` for built TFDS latents).
"""
from __future__ import annotations

import dataclasses
from typing import Iterable

import numpy as np

from symdiff_tf.data.latent_config import LatentDataConfig, fixed_windows_config
from symdiff_tf.data.melody_latents import MelodyLatents, mean_sigma, select_kept_dims
from symdiff_tf.data.scaler import LatentScaler
from symdiff_tf.melody.windows import window_starts


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



def fit_scaler(latents: MelodyLatents, config: LatentDataConfig, kept_dims=None, fit_on: str = "train",
               mean_sigma_per_dim=None) -> LatentScaler:
    """Chooses the kept dims and computes min/max over the windows `config` makes from `latents`.

    Kept dims: `kept_dims` if given, else `config.kept_dims`, else those of `mean_sigma_per_dim` (e.g. the
    builder's metadata `mean_sigma_train`; computed from `latents` when None) chosen by `config.kept_top_k` or
    `config.sigma_threshold` (`select_kept_dims`).
    The min/max cover every chunk inside at least one window, with the values `config.z_mode` trains on;
    for "sample" that is one seeded draw, so later epochs' draws may fall slightly outside [-1, 1].
    """
    return _fit_scaler(latents, config, kept_dims, fit_on, mean_sigma_per_dim)[0]


def _fit_scaler(latents: MelodyLatents, config: LatentDataConfig, kept_dims, fit_on: str, mean_sigma_per_dim):
    """`fit_scaler`, returning (scaler, the `_FlatLatents` it was fit on) so that `_windows` can reuse them."""
    if kept_dims is None:
        kept_dims = config.kept_dims
    if kept_dims is None:
        if mean_sigma_per_dim is None:
            mean_sigma_per_dim = mean_sigma(latents)
        kept_dims = select_kept_dims(mean_sigma_per_dim, config.sigma_threshold, config.kept_top_k)
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
        kept_dims = select_kept_dims(mean_sigma_per_dim, config.sigma_threshold, config.kept_top_k)
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
