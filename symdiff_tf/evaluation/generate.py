"""The latents of every table row, for unconditional generation and for infilling (paper §5.1–§5.2).

Every row is a `RowLatents`: the same N windows in the model's scaled space `[N, 32, k]` (for Table 3) and in
the VAE's space `[N, 32, z_size]` (for decoding). Rows:
- `train`, `test`: N windows drawn from each split (without replacement when there are enough). The train
  draw is the ground truth of Tables 1 and 3.
- `ddpm`: ancestral sampling over all N schedule steps (paper: 1000); `ddim`: DDIM with a chosen step count.
- `ddim-K` (only when asked, `sweep_row_name`): DDIM with K steps from the `ddim` row's seed, so that every
  step count starts from the same noise and the rows differ only by K.
- `mdn`: the TransformerMDN's ancestral samples (unconditional only; it cannot condition on the end).
- `interpolation`, `prior`: `symdiff_tf.evaluation.baselines` on the test windows' VAE-space latents.

Infilling keeps the first and last quarter of the test windows and regenerates the middle half (`infill_gap`:
chunks 8..23 of 32, the paper's `baselines.PAPER_GAP`; 4..11 of 16-chunk windows).
The kept chunks of every infilling row are the test windows' own VAE-space vectors (the same refill noise),
so they decode to the same notes, as the original's `sample_audio.py --infill` pasted the real latents back.
"""
import dataclasses

import numpy as np

from symdiff_tf.evaluation import baselines
from symdiff_tf.evaluation.decode import full_to_scaled, scaled_to_full

UNCONDITIONAL, INFILLING = "unconditional", "infilling"
SETTINGS = (UNCONDITIONAL, INFILLING)
ROWS = ("train", "test", "ddpm", "ddim", "mdn", "interpolation", "prior")
# offsets that give every row its own seed stream (seed + offset)
_ROW_SEED = {name: 1000 * (index + 1) for index, name in enumerate(ROWS)}


@dataclasses.dataclass
class RowLatents:
    """One row's windows: `scaled` `[N, 32, k]`, `full` `[N, 32, z_size]`, and for diffusion rows the
    intermediate scaled states `[K, N, 32, k]` (the Figure 3 curves) with the refinement steps done at each.
    `fill_seed`: the seed of the refill noise `full` was made with (None for rows made in the VAE's space)."""

    scaled: np.ndarray
    full: np.ndarray
    states: np.ndarray | None = None
    state_steps: np.ndarray | None = None
    fill_seed: int | None = None


def row_seed(seed: int, row: str) -> int:
    """The seed of `row` (its generator and its refill noise) derived from the run's `seed`."""
    return int(seed) + _ROW_SEED[row]


def draw_windows(windows: np.ndarray, num: int, seed: int) -> np.ndarray:
    """`num` windows of `windows` `[M, 32, k]`, drawn at random (seeded), without replacement when M ≥ num."""
    windows = np.asarray(windows, np.float32)
    if len(windows) == 0:
        raise ValueError("no windows to draw from")
    rng = np.random.default_rng(seed)
    indices = rng.choice(len(windows), size=num, replace=len(windows) < num)
    return windows[np.sort(indices)]


def from_scaled(scaler, scaled, fill: str, seed: int, states=None, state_steps=None) -> RowLatents:
    scaled = np.asarray(scaled, np.float32)
    return RowLatents(scaled, scaled_to_full(scaler, scaled, fill, seed), states, state_steps, fill_seed=seed)


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
    from symdiff_tf.diffusion.samplers import recorded_iterations

    samples, states = result
    return np.asarray(samples), np.asarray(states), recorded_iterations(num_steps, num_intermediates)


def ddpm_rows(diffusion, num_samples: int, seed: int, ddim_steps: int, num_intermediates: int, scaler,
              fill: str) -> dict:
    """Unconditional `ddpm` and `ddim` rows. `diffusion` is (trained, sampler) from `load_sampler`."""
    trained, sampler = diffusion
    sampling = trained.config.sampling
    num_steps = sampler.schedule.num_steps
    ddpm_seed = row_seed(seed, "ddpm")
    x0, states, steps = _with_states(
        sampler.ddpm(num_samples, ddpm_seed, ddpm_form=sampling.ddpm_form, num_intermediates=num_intermediates),
        num_intermediates, num_steps)
    rows = {"ddpm": from_scaled(scaler, x0, fill, ddpm_seed, states, steps)}
    rows["ddim"] = ddim_row(diffusion, ddim_steps, scaler, fill, num_samples=num_samples, seed=seed)
    return rows


def sweep_row_name(num_steps: int) -> str:
    """The row of DDIM with `num_steps` steps in a step sweep: `ddim-K`."""
    return f"ddim-{int(num_steps)}"


def ordered_rows(names) -> list[str]:
    """`names` in table order: `ROWS` order, with the `ddim-K` sweep rows after `ddim`, by K."""
    names = list(names)
    sweep = sorted((n for n in names if n.startswith("ddim-")), key=lambda n: int(n.split("-", 1)[1]))
    order = []
    for name in ROWS:
        order += [name] if name in names else []
        order += sweep if name == "ddim" else []
    return order + [n for n in names if n not in order]


def ddim_row(diffusion, num_steps: int, scaler, fill: str, seed: int, num_samples: int | None = None,
             test: RowLatents | None = None, fill_seed: int | None = None) -> RowLatents:
    """A DDIM row with `num_steps` steps: unconditional samples (`num_samples`, the `ddim` row's seed and refill
    noise), or with `test` the infilling of the test windows (the `ddim` infilling row's seed, the test's refill
    noise `fill_seed`). `diffusion` is (trained, sampler) from `load_sampler`."""
    trained, sampler = diffusion
    eta = trained.config.sampling.ddim_eta
    if test is None:
        ddim_seed = row_seed(seed, "ddim")
        latents = sampler.ddim(num_samples, ddim_seed, num_steps=int(num_steps), eta=eta)
        return from_scaled(scaler, np.asarray(latents), fill, ddim_seed)
    latents = sampler.ddim_infill(test.scaled, infill_mask(test.scaled.shape[1]), row_seed(seed, "ddim") + 1,
                                  num_steps=int(num_steps), eta=eta)
    return from_scaled(scaler, np.asarray(latents), fill, fill_seed)


def ddim_sweep_rows(diffusion, setting: str, num_samples: int, seed: int, step_counts, scaler, fill: str,
                    test: RowLatents | None = None, fill_seed: int | None = None) -> dict:
    """{`ddim-K`: RowLatents} for each K of `step_counts`: the `ddim` row of `setting` (`ddim_row`) with K steps."""
    infilling = setting != UNCONDITIONAL
    return {sweep_row_name(k): ddim_row(diffusion, k, scaler, fill, seed, num_samples,
                                        test if infilling else None, fill_seed if infilling else None)
            for k in step_counts}


def infill_rows(diffusion, test: RowLatents, seed: int, ddim_steps: int, num_intermediates: int, scaler,
                fill: str, fill_seed: int, original_infill: bool = False) -> dict:
    """Infilling `ddpm` (Algorithm 1, all N steps) and `ddim` (`DiffusionSampler.ddim_infill`) rows on the test
    windows. The generated scaled latents get the test windows' refill noise (`fill_seed`), so kept chunks equal
    the test's exactly.

    `original_infill`: the `ddpm` row starts from U[0, 1) and pastes the template noised to level t, as the
    released code (`DiffusionSampler.infill(uniform_start=True, template_at_current_step=True)`)."""
    trained, sampler = diffusion
    sampling = trained.config.sampling
    mask = infill_mask(test.scaled.shape[1])
    ddpm_seed = row_seed(seed, "ddpm") + 1
    x0, states, steps = _with_states(
        sampler.infill(test.scaled, mask, ddpm_seed, ddpm_form=sampling.ddpm_form,
                       uniform_start=original_infill, template_at_current_step=original_infill,
                       num_intermediates=num_intermediates),
        num_intermediates, sampler.schedule.num_steps)
    rows = {"ddpm": from_scaled(scaler, x0, fill, fill_seed, states, steps)}
    rows["ddim"] = ddim_row(diffusion, ddim_steps, scaler, fill, seed=seed, test=test, fill_seed=fill_seed)
    return rows


def mdn_row(mdn, num_samples: int, seed: int, scaler, fill: str) -> RowLatents:
    """Unconditional TransformerMDN samples, with the configured temperature and return convention. `mdn` is
    (trained, sampler) from `symdiff_tf.mdn.inference.load_mdn`."""
    trained, sampler = mdn
    sampling = trained.config.sampling
    mdn_seed = row_seed(seed, "mdn")
    samples = sampler(num_samples, mdn_seed, sampling.temperature, sampling.return_values)
    return from_scaled(scaler, samples, fill, mdn_seed)


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
