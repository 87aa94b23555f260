"""Piano rolls of the model's samples for TensorBoard during training (`symdiff train --vae FILE`).

scaled samples `[n, 32, k]` → `decode.scaled_to_full` (unscale with the run's `LatentScaler`, the dropped dims
refilled) → `decode.decode_windows` (greedy, one window per decoder call) → tokens `[n, 32, 32]` →
`symdiff_tf.melody.pianoroll.save_pianoroll_grid` (one roll per sample, stacked) → one RGBA image.
"""
import pathlib
import tempfile

import numpy as np

from symdiff_tf.evaluation.decode import decode_windows, scaled_to_full
from symdiff_tf.melody.pianoroll import save_pianoroll_grid


def pianoroll_images(vae, scaler, samples, fill: str = "noise", seed: int = 0) -> np.ndarray:
    """Scaled latents `[n, num_chunks, k]` → float32 `[1, height, width, 4]` in [0, 1]: the piano rolls of the n
    decoded windows, one row each (the format `symdiff_tf.training.summaries.images` takes).

    fill / seed: how the dropped dims are refilled (`LatentScaler.inverse`).
    """
    import matplotlib.image

    tokens = decode_windows(vae, scaled_to_full(scaler, samples, fill, seed), windows_per_batch=1)
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "samples.png"
        save_pianoroll_grid(path, list(tokens), titles=[f"sample {i}" for i in range(len(tokens))], columns=1)
        picture = matplotlib.image.imread(path)
    return np.asarray(picture, np.float32)[None]


def pianoroll_renderer(vae, scaler, fill: str = "noise", seed: int = 0):
    """A `render_samples` for `symdiff_tf.training.loop.train`: samples `[n, 32, k]` → `pianoroll_images(...)`.

    Raises ValueError when the scaler's latent size is not the VAE's (`z_size`).
    """
    if scaler.z_size != vae.z_size:
        raise ValueError(f"the latent scaling is for {scaler.z_size}-d latents, the MusicVAE's z_size is "
                         f"{vae.z_size}: use the VAE that encoded the training data")
    return lambda samples: pianoroll_images(vae, scaler, samples, fill, seed)
