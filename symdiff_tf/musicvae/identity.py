"""The identity of a MusicVAE by its weights, whatever its file is called: `symdiff train` records it in the
inference artifact of a run (`symdiff_tf.models_common.run_dir`), naming the VAE whose latents the run learned."""
import hashlib

import numpy as np


def vae_content_hash(model_or_path) -> str:
    """The first 16 hex digits of the SHA-256 over the VAE's weights in order: for each, its path, shape and
    dtype, then its values as little-endian bytes. Equal for a model and its `.keras` file.

    `model_or_path`: a MusicVAE, or a `.keras` file (read with `symdiff_tf.musicvae.load`).
    """
    model = model_or_path
    if not hasattr(model, "weights"):
        from symdiff_tf.musicvae import load

        model = load(model_or_path)
    digest = hashlib.sha256()
    for weight in model.weights:
        values = np.asarray(weight.numpy())
        values = values.astype(values.dtype.newbyteorder("<"), copy=False)
        digest.update(f"{weight.path} {values.shape} {values.dtype.str}\n".encode())
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()[:16]


def check_vae(vae, recorded_hash: str | None, what: str, vae_name: str = "the MusicVAE") -> str:
    """The content hash of `vae` (a MusicVAE); ValueError when `recorded_hash` (the VAE recorded by `what`, e.g. "the
    run runs/ddpm", "the latents of tfds:...") is another one. The one identity check of every command."""
    found = vae_content_hash(vae)
    if recorded_hash and recorded_hash != found:
        raise ValueError(f"{vae_name}: content hash {found}, but {what} was made with the latents of MusicVAE "
                         f"{recorded_hash}; use that VAE")
    return found
