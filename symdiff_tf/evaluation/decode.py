"""From scaled latents to pieces the metrics read (original.md §1.7–§1.8, with the chunk-drift bug fixed).

scaled windows `[N, 32, k]` → `LatentScaler.inverse` (unscale; the dropped dims refilled with seeded N(0, 1)
noise as the original, or zeros) → `[N, 32, z_size]` → MusicVAE greedy decode (temperature 0; the original's
1e-3 is effectively argmax), several whole windows per batch → tokens `[N, 32, 32]` → per window a note array
`[num_notes, 3]` (MIDI pitch, start s, end s) with chunk i at exactly 4·i s (`symdiff_tf.melody.render`).
"""
import numpy as np

from symdiff_tf.melody.chunks import STEPS_PER_CHUNK
from symdiff_tf.melody.render import CHUNK_SECONDS, SECONDS_PER_STEP, tokens_to_notes


def scaled_to_full(scaler, scaled, fill: str = "noise", seed: int = 0) -> np.ndarray:
    """`[N, 32, k]` scaled latents → float32 `[N, 32, z_size]` for the decoder (`LatentScaler.inverse`)."""
    return scaler.inverse(scaled, fill=fill, seed=seed)


def full_to_scaled(scaler, full) -> np.ndarray:
    """`[N, 32, z_size]` VAE-space latents → float32 `[N, 32, k]`: the kept dims, scaled with `scaler`."""
    full = np.asarray(full, np.float32)
    return np.asarray(scaler.scale(full[..., list(scaler.kept_dims)]), np.float32)


def decode_windows(vae, full, windows_per_batch: int = 8, progress: str | None = None) -> np.ndarray:
    """Greedy MusicVAE decoding of whole windows.

    Args:
        vae: a loaded MusicVAE (`symdiff_tf.musicvae.load`), `decode(z [B, z_size], temperature=0.0)`.
        full: `[N, num_chunks, z_size]` latents.
        windows_per_batch: windows per decoder call (a batch of windows_per_batch · num_chunks chunks).
        progress: tqdm description, or None for no bar.

    Returns:
        int64 tokens `[N, num_chunks, 32]`.
    """
    full = np.asarray(full, np.float32)
    if full.ndim != 3:
        raise ValueError(f"latents of shape {full.shape}: expected [num_windows, num_chunks, z_size]")
    num_windows, num_chunks, z_size = full.shape
    starts = range(0, num_windows, max(1, int(windows_per_batch)))
    if progress:
        import tqdm

        starts = tqdm.tqdm(starts, desc=progress, unit="batch", leave=False)
    tokens = []
    for start in starts:
        batch = full[start:start + windows_per_batch].reshape(-1, z_size)
        decoded = np.asarray(vae.decode(batch, temperature=0.0), np.int64)
        tokens.append(decoded.reshape(-1, num_chunks, STEPS_PER_CHUNK))
    return np.concatenate(tokens) if tokens else np.zeros((0, num_chunks, STEPS_PER_CHUNK), np.int64)


def tokens_to_note_array(tokens) -> np.ndarray:
    """One window's tokens `[num_chunks, 32]` → float64 `[num_notes, 3]` (MIDI pitch, start s, end s), the
    notes of `symdiff_tf.melody.render.tokens_to_note_sequence` (chunks rendered on their own, chunk i at 4·i s)."""
    starts, ends, pitches = tokens_to_notes(tokens, continuous=False)
    return np.stack([pitches, starts * SECONDS_PER_STEP, ends * SECONDS_PER_STEP], axis=-1).astype(np.float64)


def window_seconds(num_chunks: int) -> float:
    """Length of a window of `num_chunks` 2-bar chunks at 120 qpm, in seconds (32 chunks: 128 s)."""
    return num_chunks * CHUNK_SECONDS
