"""The paper's non-learned baselines over MusicVAE latents (§5.1–5.2; original.md §2.7, §4.4). numpy only.

- Prior: every chunk drawn from N(0, I), the MusicVAE prior (unconditional), or only the chunks of the gap,
  the rest kept (infilling).
- Interpolation: spherical interpolation (slerp) between two chunk latents: from the first to the last chunk of
  a window (unconditional), or from the last kept chunk before the gap to the first kept chunk after it,
  filling the gap (infilling).

Latents are arrays [..., num_chunks, latent_dim] in the VAE's own (unscaled) space, as the original built these
baselines on 512-d vectors before decoding; trim and scale them afterwards (`symdiff_tf.data.scaler`) for the
latent-space metrics. Seeded with `numpy.random.default_rng(seed)`.
"""
import numpy as np

# Paper infilling task: the middle 32 bars (chunks 8..23 of 32) are generated, 16 bars kept on each side.
PAPER_GAP = (8, 24)


def prior_latents(num_sequences: int, num_chunks: int = 32, latent_dim: int = 512, seed: int = 0) -> np.ndarray:
    """N(0, I) latents, float32 [num_sequences, num_chunks, latent_dim]."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num_sequences, num_chunks, latent_dim)).astype(np.float32)


def prior_infill(windows, gap: tuple[int, int] = PAPER_GAP, seed: int = 0) -> np.ndarray:
    """`windows` [..., num_chunks, latent_dim] with chunks gap[0]..gap[1]−1 replaced by N(0, I) draws."""
    windows = _as_windows(windows)
    start, stop = _check_gap(gap, windows.shape[-2])
    filled = windows.copy()
    rng = np.random.default_rng(seed)
    filled[..., start:stop, :] = rng.standard_normal(filled[..., start:stop, :].shape)
    return filled


def slerp(start, end, fractions) -> np.ndarray:
    """Spherical interpolation between latents, [..., latent_dim] × [..., latent_dim] × [T] -> [..., T, latent_dim].

    slerp(a, b, t) = sin((1 − t)·Ω)/sin Ω · a + sin(t·Ω)/sin Ω · b, with Ω the angle between a and b; the norms
    are interpolated along with the direction (as in MusicVAE's interpolation). Where Ω is tiny, or a or b is
    zero (a rest chunk), it falls back to linear interpolation. t = 0 returns a and t = 1 returns b exactly.
    """
    start = np.asarray(start, dtype=np.float64)[..., None, :]
    end = np.asarray(end, dtype=np.float64)[..., None, :]
    fractions = np.asarray(fractions, dtype=np.float64)[:, None]
    norms = np.linalg.norm(start, axis=-1, keepdims=True) * np.linalg.norm(end, axis=-1, keepdims=True)
    cosine = np.sum(start * end, axis=-1, keepdims=True) / np.where(norms > 0, norms, 1.0)
    omega = np.arccos(np.clip(cosine, -1.0, 1.0))
    sin_omega = np.sin(omega)
    spherical = (sin_omega > 1e-6) & (norms > 0)
    safe_sin = np.where(spherical, sin_omega, 1.0)
    start_weight = np.where(spherical, np.sin((1.0 - fractions) * omega) / safe_sin, 1.0 - fractions)
    end_weight = np.where(spherical, np.sin(fractions * omega) / safe_sin, fractions)
    result = start_weight * start + end_weight * end
    result = np.where(fractions == 0.0, start, result)
    return np.where(fractions == 1.0, end, result)


def interpolation_latents(windows) -> np.ndarray:
    """Unconditional baseline: each window [..., num_chunks, latent_dim] replaced by the slerp from its first
    chunk to its last over num_chunks evenly spaced points (first and last kept exactly)."""
    windows = _as_windows(windows)
    num_chunks = windows.shape[-2]
    path = slerp(windows[..., 0, :], windows[..., -1, :], np.linspace(0.0, 1.0, num_chunks))
    return path.astype(windows.dtype)


def interpolation_infill(windows, gap: tuple[int, int] = PAPER_GAP) -> np.ndarray:
    """Infilling baseline: chunks gap[0]..gap[1]−1 of each window filled by the slerp from chunk gap[0]−1 to
    chunk gap[1]; the kept chunks are unchanged.

    For the paper's gap (8, 24) that is 18 evenly spaced points from chunk 7 to chunk 24, the 16 inner ones
    filling the gap, as the original (`sample_audio.py`, linspace(0, 1, 18)).
    """
    windows = _as_windows(windows)
    start, stop = _check_gap(gap, windows.shape[-2])
    if start == 0 or stop == windows.shape[-2]:
        raise ValueError(f"gap {gap}: interpolation needs a kept chunk on each side of the gap")
    fractions = np.linspace(0.0, 1.0, stop - start + 2)[1:-1]
    filled = windows.copy()
    filled[..., start:stop, :] = slerp(windows[..., start - 1, :], windows[..., stop, :], fractions)
    return filled


def _as_windows(windows) -> np.ndarray:
    windows = np.asarray(windows)
    if windows.ndim < 2 or not np.issubdtype(windows.dtype, np.floating):
        raise ValueError(f"latents of shape {windows.shape}, dtype {windows.dtype}: expected floats "
                         "[..., num_chunks, latent_dim]")
    return windows


def _check_gap(gap, num_chunks: int) -> tuple[int, int]:
    start, stop = (int(g) for g in gap)
    if not 0 <= start < stop <= num_chunks:
        raise ValueError(f"gap {gap}: expected 0 <= start < stop <= {num_chunks} (chunk indices, stop exclusive)")
    return start, stop
