"""Latent-space metrics (paper §4.5, Table 3): Fréchet distance and MMD between two sets of latent sequences.

Both sets must be in the same space: the paper's scaled space (the kept dims, mapped to [-1, 1] with the
training min/max), shape [num_sequences, 32, kept_dims].

Flattening (the released code took 2-D arrays only, so the paper's choice is not visible):
- `per="chunk"` (default): every 2-bar latent is one sample, [N·32, k]. With N = 1000 and k = 42 the covariances
  come from 32,000 samples and are well estimated; it measures the distribution of single chunks, not their
  order. The paper's small numbers (test vs train FD 1.24e-2) fit this reading.
- `per="sequence"`: every window is one sample, [N, 32·k] = [1000, 1344]; captures correlations between chunks,
  but the covariances are singular (rank < 1344) and FD is dominated by estimation noise at N = 1000.

MMD is the biased V-statistic the original used: mean(K_XX) + mean(K_YY) − 2·mean(K_XY), diagonals included.
"""
import numpy as np

FLATTENINGS = ("chunk", "sequence")
KERNELS = ("polynomial", "rbf")


def flatten_latents(latents, per: str = "chunk") -> np.ndarray:
    """[N, num_chunks, k] (or already [M, d]) -> [N·num_chunks, k] (per="chunk") or [N, num_chunks·k]
    (per="sequence"), float64."""
    latents = np.asarray(latents, dtype=np.float64)
    if per not in FLATTENINGS:
        raise ValueError(f"per={per!r}: expected one of {FLATTENINGS}")
    if latents.ndim == 2:
        return latents
    if latents.ndim != 3:
        raise ValueError(f"latents of shape {latents.shape}: expected [num_sequences, num_chunks, dims]")
    if per == "chunk":
        return latents.reshape(-1, latents.shape[-1])
    return latents.reshape(latents.shape[0], -1)


def frechet_distance(real, generated, per: str = "chunk") -> float:
    """‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2·(Σ_r·Σ_g)^½), covariances with `np.cov` (N − 1).

    Args:
        real, generated: [N, 32, k] latent sequences (or [M, d] samples), same k.
        per: flattening, see the module docstring.

    The matrix square root is `scipy.linalg.sqrtm`; its imaginary part (round-off) is dropped. If the product is
    singular, 1e-6 is added to both diagonals, the fallback the original meant to use (its code referred to an
    undefined `eps`).
    """
    import scipy.linalg

    x, y = flatten_latents(real, per), flatten_latents(generated, per)
    _check_pair(x, y)
    mean_gap = x.mean(axis=0) - y.mean(axis=0)
    cov_x, cov_y = np.atleast_2d(np.cov(x, rowvar=False)), np.atleast_2d(np.cov(y, rowvar=False))
    root = scipy.linalg.sqrtm(cov_x @ cov_y)
    if not np.all(np.isfinite(root)):
        offset = np.eye(len(cov_x)) * 1e-6
        root = scipy.linalg.sqrtm((cov_x + offset) @ (cov_y + offset))
    root = np.real(root)
    return float(mean_gap @ mean_gap + np.trace(cov_x) + np.trace(cov_y) - 2.0 * np.trace(root))


def kernel_matrix(x: np.ndarray, y: np.ndarray, kernel: str = "polynomial", degree: int = 2, gamma: float = 1.0,
                  coef0: float = 0.0) -> np.ndarray:
    """[M, d] × [L, d] -> [M, L]. polynomial: (γ·⟨x, y⟩ + coef0)^degree; rbf: exp(−γ·‖x − y‖²)."""
    if kernel == "polynomial":
        return (gamma * (x @ y.T) + coef0) ** degree
    if kernel == "rbf":
        squared = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * (x @ y.T)
        return np.exp(-gamma * np.maximum(squared, 0.0))
    raise ValueError(f"kernel={kernel!r}: expected one of {KERNELS}")


def mmd(real, generated, kernel: str = "polynomial", per: str = "chunk", degree: int = 2, gamma: float = 1.0,
        coef0: float = 0.0) -> float:
    """Squared maximum mean discrepancy, biased V-statistic (as the original).

    Defaults are the paper's: polynomial kernel, degree 2, γ = 1, coef0 = 0. `kernel="rbf"` uses γ (1 by
    default). The degree-2 polynomial MMD is computed exactly from second moments (fast); other kernels sum the
    kernel matrix in blocks of `_BLOCK` rows, so memory stays small (RBF over 32,000 chunks per set: about 2 min
    on 2 cores).
    """
    x, y = flatten_latents(real, per), flatten_latents(generated, per)
    _check_pair(x, y)
    options = dict(kernel=kernel, degree=degree, gamma=gamma, coef0=coef0)
    return float(_kernel_mean(x, x, options) + _kernel_mean(y, y, options) - 2.0 * _kernel_mean(x, y, options))


_BLOCK = 4096


def _kernel_mean(x: np.ndarray, y: np.ndarray, options: dict) -> float:
    """mean over i, j of k(x_i, y_j). Degree-2 polynomial: exactly, through second moments, since
    mean (γ⟨x, y⟩ + c)² = γ²·⟨XᵀX/M, YᵀY/L⟩_F + 2γc·⟨x̄, ȳ⟩ + c² (O((M + L)·d²) instead of O(M·L·d))."""
    if options["kernel"] == "polynomial" and options["degree"] == 2:
        gamma, coef0 = options["gamma"], options["coef0"]
        moments_x, moments_y = x.T @ x / len(x), y.T @ y / len(y)
        return float(gamma**2 * np.sum(moments_x * moments_y)
                     + 2 * gamma * coef0 * (x.mean(0) @ y.mean(0)) + coef0**2)
    total = 0.0
    for i in range(0, len(x), _BLOCK):
        for j in range(0, len(y), _BLOCK):
            total += kernel_matrix(x[i : i + _BLOCK], y[j : j + _BLOCK], **options).sum()
    return total / (len(x) * len(y))


def latent_metrics(real, generated, per: str = "chunk") -> dict:
    """Table 3 for one row: {"fd": Fréchet distance, "mmd": polynomial MMD}."""
    return {"fd": frechet_distance(real, generated, per), "mmd": mmd(real, generated, per=per)}


def _check_pair(x: np.ndarray, y: np.ndarray) -> None:
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"latent sets have different dims: {x.shape[1]} and {y.shape[1]}")
    if len(x) < 2 or len(y) < 2:
        raise ValueError(f"need at least 2 samples per set, got {len(x)} and {len(y)}")
