"""The `.npz` of 2-bar chunks that `symdiff melodies` writes and `train-vae`, `infill` and `evaluate` read.

Arrays (one row per chunk, melodies one after the other in extraction order):
- `tokens` int32 `[n, 32]`: class indices 0..89 (0 = hold / no event, 1 = note off, 2 + pitch - 21 = note on);
- `rests` bool `[n]`: the chunks the paper encodes as zero latents (`chunks.rest_chunks`);
- `melody` int32 `[n]`: index of the chunk's melody in `sources`; `position` int32 `[n]`: chunk index in it;
- `sources` str `[m]`: each melody's MIDI file; `start_seconds` float64 `[m]`: where its first bar starts;
- `format` str scalar: `FORMAT`.
Strings are stored as numpy unicode arrays, so `np.load` needs no pickle.
"""
from __future__ import annotations

import numpy as np

from symdiff_tf.melody.chunks import STEPS_PER_CHUNK

FORMAT = "symdiff-chunks-1"


def save_chunk_archive(path, records) -> int:
    """Writes the chunks of `records` (`MelodyRecord`s; melodies without a chunk are left out) to `path`;
    returns the number of chunks written."""
    records = [r for r in records if r.n_chunks]
    tokens = np.concatenate([r.chunks for r in records]).astype(np.int32) if records else \
        np.zeros((0, STEPS_PER_CHUNK), np.int32)
    np.savez_compressed(
        path, format=np.array(FORMAT), tokens=tokens,
        rests=np.concatenate([r.rests for r in records]).astype(bool) if records else np.zeros(0, bool),
        melody=np.repeat(np.arange(len(records), dtype=np.int32), [r.n_chunks for r in records]),
        position=np.concatenate([np.arange(r.n_chunks, dtype=np.int32) for r in records]) if records else
        np.zeros(0, np.int32),
        sources=np.array([str(r.source) for r in records], dtype=str),
        start_seconds=np.array([r.start_seconds for r in records], dtype=np.float64))
    return len(tokens)


def is_chunk_archive(archive) -> bool:
    """True for the arrays of an `.npz` (an opened `np.load` archive or a dict) written by `save_chunk_archive`."""
    return "format" in archive and str(archive["format"]) == FORMAT


def melody_tokens(archive, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(tokens `[n_chunks, 32]` int32, rests `[n_chunks]` bool) of melody `index` of an opened chunk archive."""
    count = len(archive["sources"])
    if not 0 <= index < count:
        raise ValueError(f"melody {index} is not in the archive (it holds {count} melodies)")
    rows = archive["melody"] == index
    order = np.argsort(archive["position"][rows])
    return archive["tokens"][rows][order].astype(np.int32), archive["rests"][rows][order].astype(bool)
