"""Piano rolls of the model's samples for TensorBoard during training (`symdiff train --vae FILE`).

scaled samples `[n, 32, k]` → `decode.refill` (unscale with the run's `LatentScaler`, the dropped dims refilled
with sample i's seed seed + i) → `decode.decode_windows` (greedy, the pipeline's codec) → tokens `[n, 32, 32]` →
`symdiff_tf.melody.pianoroll.save_pianoroll_grid` (one roll per sample, stacked) → one RGBA image.
"""
import pathlib
import tempfile

import numpy as np

from symdiff_tf.evaluation.decode import decode_windows, refill
from symdiff_tf.melody.pianoroll import save_pianoroll_grid


def pianoroll_images(codec, samples, seed: int = 0) -> np.ndarray:
    """Scaled latents `[n, num_chunks, k]` → float32 `[1, height, width, 4]` in [0, 1]: the piano rolls of the n
    decoded windows, one row each (the format `symdiff_tf.training.summaries.images` takes).

    codec: a `LatentCodec`; seed: sample i's dropped dims are refilled with the noise of seed + i.
    """
    import matplotlib.image

    tokens = decode_windows(codec, refill(codec, samples, seed + np.arange(len(samples))), windows_per_batch=4)
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "samples.png"
        save_pianoroll_grid(path, list(tokens), titles=[f"sample {i}" for i in range(len(tokens))], columns=1)
        picture = matplotlib.image.imread(path)
    return np.asarray(picture, np.float32)[None]


def pianoroll_renderer(vae, scaler, fill: str = "noise", seed: int = 0):
    """A `render_samples` for `symdiff_tf.training.loop.train`: samples `[n, 32, k]` → `pianoroll_images(...)`.

    Raises ValueError when the scaler's latent size is not the VAE's (`z_size`).
    """
    from symdiff_tf.generation.codec import LatentCodec

    codec = LatentCodec(vae, scaler, fill)  # refuses a scaler of another latent size
    return lambda samples: pianoroll_images(codec, samples, seed)
