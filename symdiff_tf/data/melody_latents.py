"""`MelodyLatents`: per-melody MusicVAE posteriors (`mu`, `sigma` `[n_chunks, z_size]`, rest flags `[n_chunks]`) in
memory, and the choice of the kept dims from their mean sigma (paper Appendix C)."""
from __future__ import annotations

import dataclasses

import numpy as np


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
        # disable=None: a bar on a terminal only (not in logs); it advances per melody read
        for index, example in enumerate(tqdm.tqdm(examples, desc="reading latents", unit=" melodies",
                                                  mininterval=0.5, disable=None)):
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


def select_kept_dims(mean_sigma_per_dim, threshold: float = 1.0, top_k: int | None = None) -> np.ndarray:
    """Indices (sorted, int64) of the kept latent dims.

    - `top_k` given: the `top_k` dims with the smallest mean sigma, i.e. those the VAE uses most. A number of
      dims transfers from one VAE to another, where a sigma threshold does not (with a weak KL weight, a
      256-dim VAE had 254 dims below 1.0);
    - else the dims whose mean sigma is below `threshold` (paper Appendix C: 1.0).
    """
    mean_sigma_per_dim = np.asarray(mean_sigma_per_dim)
    if top_k is not None:
        if not 1 <= top_k <= mean_sigma_per_dim.size:
            raise ValueError(f"latents.kept_top_k={top_k}: the VAE has {mean_sigma_per_dim.size} latent dims")
        return np.sort(np.argsort(mean_sigma_per_dim, kind="stable")[:top_k]).astype(np.int64)
    kept = np.flatnonzero(mean_sigma_per_dim < threshold)
    if kept.size == 0:
        raise ValueError(f"no latent dim has mean sigma below {threshold}: lower-variance dims are needed to "
                         "train on; pass kept_dims or kept_top_k, or raise sigma_threshold")
    return kept.astype(np.int64)
