"""`symdiff evaluate`: the paper's Tables 1–3 and Figures 2–3 from trained models (paper §4.4–§5).

Importing this package is cheap; the work is in the submodules:
- `metrics`: the measures themselves (framewise overlapping area, FD, MMD, note statistics), numpy only;
- `baselines`: the non-learned rows (N(0, I) prior, spherical interpolation);
- `decode`: scaled latents → 512-d latents (unscale, refill the dropped dims) → VAE tokens → note arrays;
- `generate`: the latents of every table row (train, test, ddpm, ddim, mdn, interpolation, prior), for
  unconditional generation and for infilling the middle 16 chunks;
- `tables`: scoring (framewise OA, FD, MMD) and writing `tables.json`, `tables.csv`, `tables.md`;
- `figures`: piano rolls (Figure 2) and the refinement curves (Figure 3); `sample_pianorolls`: decoded samples
  as images (TensorBoard during training);
- `pipeline`: `evaluate(...)`, which runs it all. See docs/evaluation.md.
"""
