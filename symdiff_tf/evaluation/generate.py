"""The latents of every table row, for unconditional generation and for infilling (paper §5.1–§5.2).

Every row is a `RowLatents`: the same N windows in the model's scaled space `[N, 32, k]` (for Table 3) and in
the VAE's space `[N, 32, z_size]` (for decoding). Rows:
- `train`, `test`: N windows drawn from each split (without replacement when there are enough). The train
  draw is the ground truth of Tables 1 and 3.
- `ddpm`: ancestral sampling over all N schedule steps (paper: 1000); `ddim`: DDIM with a chosen step count.
- `ddim-K`, `dpm-solver++-K` (only when asked, `sweep_row_name`): that scheduler with K steps from the `ddim`
  row's seeds, so that every method and step count starts from the same noise and the rows differ only by them.
- `mdn`: the TransformerMDN's ancestral samples (unconditional only; it cannot condition on the end).
- `interpolation`, `prior`: `symdiff_tf.evaluation.baselines` on the test windows' VAE-space latents.

Infilling keeps the first and last quarter of the test windows and regenerates the middle half (`infill_gap`:
chunks 8..23 of 32, the paper's `baselines.PAPER_GAP`; 4..11 of 16-chunk windows).
The kept chunks of every infilling row are the test windows' own VAE-space vectors (the same refill noise),
so they decode to the same notes, as the original's `sample_audio.py --infill` pasted the real latents back.

One seed per window (`symdiff_tf.models_common.noise`), as every generation path: window i of a row has seed
`row_seed(seed, row) + i`, for its reverse process (or the MDN's draws) and for its refill noise. Diffusion rows
run through the model's `LatentSampler` (`symdiff_tf.diffusion.reverse`) and decode through the pipeline's codec
(`decode`).
"""
import dataclasses

import numpy as np

from symdiff_tf.evaluation import baselines
from symdiff_tf.evaluation.decode import full_to_scaled, refill

UNCONDITIONAL, INFILLING = "unconditional", "infilling"
SETTINGS = (UNCONDITIONAL, INFILLING)
ROWS = ("train", "test", "ddpm", "ddim", "mdn", "interpolation", "prior")
# offsets that give every row its own seeds (window i: seed + offset + i, for up to 500,000 windows), and the
# offset of a row's infilling windows within its own
_ROW_SEED = {name: 1_000_000 * (index + 1) for index, name in enumerate(ROWS)}
INFILL_SEED_OFFSET = 500_000


@dataclasses.dataclass
class RowLatents:
    """One row's windows: `scaled` `[N, 32, k]`, `full` `[N, 32, z_size]`, and for diffusion rows the
    intermediate scaled states `[K, N, 32, k]` (the Figure 3 curves) with the refinement steps done at each.
    `seeds`: each window's refill seed `[N]` (None for rows made in the VAE's space)."""

    scaled: np.ndarray
    full: np.ndarray
    states: np.ndarray | None = None
    state_steps: np.ndarray | None = None
    seeds: np.ndarray | None = None


def row_seed(seed: int, row: str) -> int:
    """The first seed of `row` (window i has `row_seed + i`), derived from the run's `seed`."""
    return int(seed) + _ROW_SEED[row]


def row_seeds(seed: int, row: str, count: int, offset: int = 0) -> np.ndarray:
    """The per-window seeds `[count]` int64 of `row` (`offset` tells two draws of one row apart)."""
    return row_seed(seed, row) + offset + np.arange(count, dtype=np.int64)


def draw_windows(windows: np.ndarray, num: int, seed: int) -> np.ndarray:
    """`num` windows of `windows` `[M, 32, k]`, drawn at random (seeded), without replacement when M ≥ num."""
    windows = np.asarray(windows, np.float32)
    if len(windows) == 0:
        raise ValueError("no windows to draw from")
    rng = np.random.default_rng(seed)
    indices = rng.choice(len(windows), size=num, replace=len(windows) < num)
    return windows[np.sort(indices)]


def from_scaled(codec, scaled, seeds, states=None, state_steps=None) -> RowLatents:
    """A row of scaled windows, refilled for the decoder with one seed per window (`decode.refill`)."""
    scaled = np.asarray(scaled, np.float32)
    return RowLatents(scaled, refill(codec, scaled, seeds), states, state_steps, np.asarray(seeds))


def from_full(scaler, full) -> RowLatents:
    full = np.asarray(full, np.float32)
    return RowLatents(full_to_scaled(scaler, full), full)


def infill_gap(num_chunks: int) -> tuple[int, int]:
    """(first, stop) chunks regenerated when infilling windows of `num_chunks`: the middle half, which for 32
    chunks is the paper's (8, 24) (`baselines.PAPER_GAP`: 16 bars kept on each side, 32 bars generated)."""
    if num_chunks < 4:
        raise ValueError(f"infilling needs windows of at least 4 chunks, got {num_chunks}")
    return num_chunks // 4, num_chunks - num_chunks // 4


def infill_mask(num_chunks: int) -> np.ndarray:
    """float32 `[num_chunks]`: 1 = keep the chunk, 0 = generate it (the chunks of `infill_gap`)."""
    start, stop = infill_gap(num_chunks)
    mask = np.ones(num_chunks, np.float32)
    mask[start:stop] = 0.0
    return mask


def _with_states(result, num_intermediates, num_steps):
    """Splits a sampler result into (x0, states, steps done at each state)."""
    if not num_intermediates:
        return np.asarray(result), None, None
    from symdiff_tf.diffusion.reverse import recorded_iterations

    samples, states = result
    return np.asarray(samples), np.asarray(states), recorded_iterations(num_steps, num_intermediates)


def ddpm_rows(diffusion, codec, num_samples: int, seed: int, ddim_steps: int, num_intermediates: int) -> dict:
    """Unconditional `ddpm` (all N steps) and `ddim` rows of `diffusion` (a `DiffusionModel`)."""
    sampler = diffusion.sampler
    seeds = row_seeds(seed, "ddpm", num_samples)
    x0, states, steps = _with_states(
        sampler.sample(seeds, "ddpm", sampler.num_diffusion_steps, num_intermediates=num_intermediates),
        num_intermediates, sampler.num_diffusion_steps)
    rows = {"ddpm": from_scaled(codec, x0, seeds, states, steps)}
    rows["ddim"] = sweep_row(diffusion, codec, "ddim", ddim_steps, seed, num_samples=num_samples)
    return rows


def sweep_row_name(scheduler: str, num_steps: int) -> str:
    """The row of `scheduler` with `num_steps` steps in a sweep: `ddim-K`, `dpm-solver++-K`."""
    return f"{scheduler}-{int(num_steps)}"


def _sweep_key(name: str):
    """(scheduler, K) of a sweep row name, or None for another row."""
    scheduler, _, steps = name.rpartition("-")
    return (scheduler, int(steps)) if scheduler in ("ddim", "dpm-solver++") and steps.isdigit() else None


def ordered_rows(names) -> list[str]:
    """`names` in table order: `ROWS` order, with the sweep rows after `ddim` (DDIM's, then DPM-Solver++'s, by K)."""
    names = list(names)
    sweep = sorted((n for n in names if _sweep_key(n)), key=_sweep_key)
    order = []
    for name in ROWS:
        order += [name] if name in names else []
        order += sweep if name == "ddim" else []
    return order + [n for n in names if n not in order]


def sweep_row(diffusion, codec, scheduler: str, num_steps: int, seed: int, num_samples: int | None = None,
              test: RowLatents | None = None, resample: int = 1, repeat_start: float = 1.0) -> RowLatents:
    """A row of `scheduler` (not DDPM) with `num_steps` steps: unconditional samples (`num_samples`, the `ddim`
    row's seeds), or with `test` the infilling of the test windows (the `ddim` infilling row's seeds; the test
    windows' refill seeds, so that kept chunks decode to the test's notes; `resample` passes per step,
    `repeat_start` the gap's start, `LatentSampler.infill`). DDIM's eta: the model's."""
    sampler = diffusion.sampler
    if test is None:
        seeds = row_seeds(seed, "ddim", num_samples)
        return from_scaled(codec, sampler.sample(seeds, scheduler, int(num_steps)), seeds)
    seeds = row_seeds(seed, "ddim", len(test.scaled), offset=INFILL_SEED_OFFSET)
    latents = sampler.infill(test.scaled, infill_mask(test.scaled.shape[1]), seeds, scheduler, int(num_steps),
                             resample=resample, repeat_start=repeat_start)
    return from_scaled(codec, latents, test.seeds)


def sweep_rows(diffusion, codec, setting: str, num_samples: int, seed: int, sweep, test: RowLatents | None = None
               ) -> dict:
    """{`SCHEDULER-K`: RowLatents} for each (scheduler, K) of `sweep`: the `ddim` row of `setting` with that
    scheduler and step count (`sweep_row`)."""
    infilling = setting != UNCONDITIONAL
    return {sweep_row_name(scheduler, k): sweep_row(diffusion, codec, scheduler, k, seed, num_samples,
                                                    test if infilling else None)
            for scheduler, k in sweep}


def infill_rows(diffusion, codec, test: RowLatents, seed: int, ddim_steps: int, num_intermediates: int,
                original_infill: bool = False, resample: int = 1, repeat_start: float = 1.0) -> dict:
    """Infilling `ddpm` (Algorithm 1, all N steps) and `ddim` rows on the test windows. The generated scaled
    latents get the test windows' refill seeds, so kept chunks equal the test's exactly.

    `original_infill`: the `ddpm` row starts from U[0, 1) and pastes the template noised to level t, as the
    released code (`LatentSampler.infill(uniform_start=True, template_at_current_step=True)`). `resample`: passes
    per step of both rows (`LatentSampler.infill`; 1 = the paper's replacement); `repeat_start`: where both rows
    start the gap (1 = from noise; less: from the kept chunks 16 bars before, `LatentSampler.infill`)."""
    sampler = diffusion.sampler
    count = len(test.scaled)
    seeds = row_seeds(seed, "ddpm", count, offset=INFILL_SEED_OFFSET)
    num_steps = sampler.num_diffusion_steps
    # the iterations the curve's states are taken over: those at or below the repeat start's level
    visited = int(sampler.visited_timesteps(sampler.scheduler("ddpm"), num_steps, repeat_start).shape[0])
    x0, states, steps = _with_states(
        sampler.infill(test.scaled, infill_mask(test.scaled.shape[1]), seeds, "ddpm", num_steps,
                       uniform_start=original_infill, template_at_current_step=original_infill,
                       num_intermediates=num_intermediates, resample=resample, repeat_start=repeat_start),
        num_intermediates, visited)
    rows = {"ddpm": from_scaled(codec, x0, test.seeds, states, steps)}
    rows["ddim"] = sweep_row(diffusion, codec, "ddim", ddim_steps, seed, test=test, resample=resample,
                             repeat_start=repeat_start)
    return rows


def mdn_row(mdn, codec, num_samples: int, seed: int) -> RowLatents:
    """Unconditional TransformerMDN samples, with the configured temperature and return convention, one seed per
    window (its draws and its refill noise). `mdn` is (trained, sampler) from `symdiff_tf.mdn.inference.load_mdn`."""
    trained, sampler = mdn
    sampling = trained.config.sampling
    seeds = row_seeds(seed, "mdn", num_samples)
    return from_scaled(codec, sampler(seeds, sampling.temperature, sampling.return_values), seeds)


def baseline_rows(test: RowLatents, setting: str, seed: int, scaler) -> dict:
    """`interpolation` and `prior` rows from the test windows' VAE-space latents."""
    prior_seed = row_seed(seed, "prior")
    if setting == UNCONDITIONAL:
        num, chunks, z_size = test.full.shape
        prior = baselines.prior_latents(num, chunks, z_size, seed=prior_seed)
        interpolation = baselines.interpolation_latents(test.full)
    else:
        gap = infill_gap(test.full.shape[1])
        prior = baselines.prior_infill(test.full, gap, seed=prior_seed)
        interpolation = baselines.interpolation_infill(test.full, gap)
    return {"interpolation": from_full(scaler, interpolation), "prior": from_full(scaler, prior)}
