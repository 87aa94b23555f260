"""`LatentScaler`: the kept latent dims and the scalar min/max that map them to [-1, 1], its inverse with the
dropped dims refilled (original.md §1.5–§1.7), and its JSON file beside a trained model. numpy only: inference
reads it without the input pipeline (`symdiff_tf.data.latent_windows.fit_scaler` computes one)."""
from __future__ import annotations

import dataclasses
import json
import pathlib

import numpy as np

from symdiff_tf.data.latent_config import FILLS

SCALER_FILENAME = "latent_scaling.json"


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

