"""Windows of L consecutive 2-bar chunks (L = 32 chunks = 64 bars in the paper; 16 = 32 bars also used).

The original (`scripts/transform_encoded_data.py --mode=sequences`, ../shared/docs/original.md §1.4) had two
bugs, fixed here by default and available behind `original_bugs=True`:

- off-by-one: it took starts `range(0, n_chunks - L, stride)`, so a melody needed L + 1 chunks for one window and
  the last window was never produced. Here: `range(0, n_chunks - L + 1, stride)`.
- rest filter: windows holding a rest chunk (a zero latent) were meant to be dropped, but the test
  `np.where(norm < 1e-6)[0].any()` misses a window whose only rest is at position 0. Here any rest counts.

`allow_rests=False` (the default, the original's intent) drops every window that holds a rest chunk;
`allow_rests=True` keeps them (a model then learns rests as zero vectors, as the original did by accident at
position 0).
"""
from __future__ import annotations

import numpy as np

DEFAULT_LENGTH = 32


def window_starts(n_chunks: int, length: int = DEFAULT_LENGTH, stride: int = 1, rests: np.ndarray | None = None,
                  allow_rests: bool = False, original_bugs: bool = False) -> np.ndarray:
    """First chunk index of every window of `length` chunks: int64 [n_windows].

    n_chunks: chunks in the melody. stride: chunks between consecutive window starts (1 in the paper).
    rests: bool [n_chunks] rest flags (`chunks.rest_chunks`); needed when `allow_rests` is False, ignored
        otherwise. original_bugs: reproduce the original's off-by-one and its position-0 rest blind spot.
    """
    if length < 1 or stride < 1:
        raise ValueError(f"window length and stride must be >= 1, got length={length}, stride={stride}")
    stop = n_chunks - length + (0 if original_bugs else 1)
    starts = np.arange(0, max(stop, 0), stride, dtype=np.int64)
    if allow_rests or not len(starts):
        return starts
    if rests is None:
        raise ValueError("rests are needed to drop windows that hold rest chunks (or pass allow_rests=True)")
    rests = np.asarray(rests, dtype=bool)
    if rests.shape != (n_chunks,):
        raise ValueError(f"rests must have shape ({n_chunks},), got {rests.shape}")
    rests_before = np.concatenate([[0], np.cumsum(rests, dtype=np.int64)])  # rests in chunks [0, i)
    # The original's test missed a rest at the window's first position: it counted from the second one on.
    first_counted = starts + 1 if original_bugs else starts
    has_rest = rests_before[starts + length] - rests_before[first_counted] > 0
    return starts[~has_rest]


def stack_windows(chunks: np.ndarray, starts: np.ndarray, length: int = DEFAULT_LENGTH) -> np.ndarray:
    """The windows at `starts` stacked: [n_windows, length, *chunks.shape[1:]] (e.g. [n, 32, 32] class indices
    from chunks [n_chunks, 32], or [n, 32, latent_dim] from latents [n_chunks, latent_dim])."""
    chunks = np.asarray(chunks)
    starts = np.asarray(starts, dtype=np.int64)
    if len(starts) and (starts.min() < 0 or starts.max() + length > len(chunks)):
        raise ValueError(f"windows of {length} chunks at starts {starts.min()}..{starts.max()} do not fit in "
                         f"{len(chunks)} chunks")
    return chunks[starts[:, None] + np.arange(length)]


def melody_windows(chunks: np.ndarray, rests: np.ndarray | None = None, length: int = DEFAULT_LENGTH,
                   stride: int = 1, allow_rests: bool = False, original_bugs: bool = False) -> np.ndarray:
    """`stack_windows(chunks, window_starts(...))`: all windows of one melody, [n_windows, length, ...]."""
    starts = window_starts(len(chunks), length=length, stride=stride, rests=rests, allow_rests=allow_rests,
                           original_bugs=original_bugs)
    return stack_windows(chunks, starts, length)
