"""From scaled latents to the pieces the metrics read (original.md §1.7–§1.8, with the chunk-drift bug fixed),
through the generation pipeline's own codec (`symdiff_tf.generation.codec.LatentCodec`).

scaled windows `[N, 32, k]` → `LatentCodec.refill` (unscale; the dropped dims refilled with each window's seeded
N(0, 1) noise as the original, or zeros) → `[N, 32, z_size]` → `LatentCodec.decode` greedy (temperature 0; the
original's 1e-3 is effectively argmax) → tokens `[N, 32, 32]` → per window a note array `[num_notes, 3]` (MIDI
pitch, start s, end s) with chunk i at exactly 4·i s (`symdiff_tf.melody.render`).
"""
import numpy as np

from symdiff_tf.melody.render import CHUNK_SECONDS, SECONDS_PER_STEP, tokens_to_notes


def full_to_scaled(scaler, full) -> np.ndarray:
    """`[N, 32, z_size]` VAE-space latents → float32 `[N, 32, k]`: the kept dims, scaled with `scaler`."""
    full = np.asarray(full, np.float32)
    return np.asarray(scaler.scale(full[..., list(scaler.kept_dims)]), np.float32)


def refill(codec, scaled, seeds, batch: int = 256) -> np.ndarray:
    """Scaled latents `[N, 32, k]` and one seed per window `[N]` → float32 `[N, 32, z_size]` for the decoder."""
    from symdiff_tf.models_common.noise import seed_pairs

    scaled = np.asarray(scaled, np.float32)
    parts = [np.asarray(codec.refill(scaled[i:i + batch], seed_pairs(np.asarray(seeds[i:i + batch]))))
             for i in range(0, len(scaled), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, *scaled.shape[1:-1], codec.vae.z_size), np.float32)


def decode_windows(codec, full, windows_per_batch: int = 8, progress: str | None = None) -> np.ndarray:
    """Greedy MusicVAE decoding of whole windows `[N, num_chunks, z_size]` with `codec` (a `LatentCodec`),
    `windows_per_batch` windows per decoder call; progress: tqdm description, or None for no bar.
    Returns int64 tokens `[N, num_chunks, 32]`."""
    import tensorflow as tf

    from symdiff_tf.models_common.noise import seed_pairs

    full = np.asarray(full, np.float32)
    if full.ndim != 3:
        raise ValueError(f"latents of shape {full.shape}: expected [num_windows, num_chunks, z_size]")
    starts = range(0, len(full), max(1, int(windows_per_batch)))
    if progress:
        import tqdm

        starts = tqdm.tqdm(starts, desc=progress, unit="batch", leave=False)
    greedy = tf.constant(0.0)
    tokens = [np.asarray(codec.decode(tf.constant(full[i:i + windows_per_batch]),
                                      seed_pairs(np.zeros(len(full[i:i + windows_per_batch]), np.int64)), greedy),
                         np.int64) for i in starts]
    return np.concatenate(tokens) if tokens else np.zeros((0, full.shape[1], 32), np.int64)


def tokens_to_note_array(tokens) -> np.ndarray:
    """One window's tokens `[num_chunks, 32]` → float64 `[num_notes, 3]` (MIDI pitch, start s, end s), the
    notes of `symdiff_tf.melody.render.tokens_to_note_sequence` (chunks rendered on their own, chunk i at 4·i s)."""
    starts, ends, pitches = tokens_to_notes(tokens, continuous=False)
    return np.stack([pitches, starts * SECONDS_PER_STEP, ends * SECONDS_PER_STEP], axis=-1).astype(np.float64)


def window_seconds(num_chunks: int) -> float:
    """Length of a window of `num_chunks` 2-bar chunks at 120 qpm, in seconds (32 chunks: 128 s)."""
    return num_chunks * CHUNK_SECONDS
