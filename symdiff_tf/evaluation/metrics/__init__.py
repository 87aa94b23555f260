"""Evaluation metrics of the paper (§4.4–4.5) and a few beyond it. No TensorFlow; numpy (scipy for FD only).

- `overlapping_area(mean1, var1, mean2, var2)`: exact OA of two Gaussians; `overlapping_area_original`: the
  released code's formula (wrong for equal variances), for comparison.
- Framewise self-similarity (`framewise`): `adjacent_overlaps` per piece, `overlap_statistics` over a set
  (Table 2), `consistency_and_variance` / `framewise_metrics` against a ground truth (Table 1).
- Latent space (`latent`): `frechet_distance`, `mmd`, `latent_metrics` (Table 3), `flatten_latents`.
- Note level (`note_stats`): pitch-class entropy, note density, rest share, longest exact repetition.
- Listening (`listening`): in-key share, register distance and density of regenerated bars against the kept ones,
  key stability, and the onset F1 of infilled bars where the song repeats a section; `listening_rows` per row.

Pieces are NoteSequences, MIDI file paths or [num_notes, 3] arrays (pitch, start s, end s). See docs/metrics.md.
"""
from symdiff_tf.evaluation.metrics.framewise import (
    FrameSpec,
    OverlapStatistics,
    adjacent_overlaps,
    bars_to_seconds,
    consistency_and_variance,
    frame_gaussians,
    framewise_metrics,
    overlap_statistics,
    relative_similarity,
    table1_standard_errors,
)
from symdiff_tf.evaluation.metrics.listening import listening_rows
from symdiff_tf.evaluation.metrics.latent import flatten_latents, frechet_distance, latent_metrics, mmd
from symdiff_tf.evaluation.metrics.note_stats import (
    longest_repetition,
    mean_note_statistics,
    note_density,
    note_statistics,
    pitch_class_entropy,
    rest_share,
)
from symdiff_tf.evaluation.metrics.notes import as_note_array
from symdiff_tf.evaluation.metrics.overlap import overlapping_area, overlapping_area_original

__all__ = [
    "FrameSpec",
    "OverlapStatistics",
    "adjacent_overlaps",
    "as_note_array",
    "bars_to_seconds",
    "consistency_and_variance",
    "flatten_latents",
    "frame_gaussians",
    "framewise_metrics",
    "frechet_distance",
    "latent_metrics",
    "listening_rows",
    "longest_repetition",
    "mean_note_statistics",
    "mmd",
    "note_density",
    "note_statistics",
    "overlap_statistics",
    "table1_standard_errors",
    "overlapping_area",
    "overlapping_area_original",
    "pitch_class_entropy",
    "relative_similarity",
    "rest_share",
]
