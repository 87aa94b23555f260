"""`evaluate(...)`: generate every row, decode it, score it, write tables and figures (docs/evaluation.md)."""
import dataclasses
import json
import pathlib
import time

import numpy as np

from symdiff_tf.evaluation import figures, generate, tables
from symdiff_tf.evaluation.listening_table import listening_table, write_listening
from symdiff_tf.evaluation.decode import decode_windows, tokens_to_note_array
from symdiff_tf.evaluation.generate import INFILLING, SETTINGS, UNCONDITIONAL, RowLatents, ordered_rows

EXTRA_SCORING_DIR = "oa_{formula}"  # the tables of `EvaluationSettings.extra_scorings`, by their OA formula


@dataclasses.dataclass
class EvaluationSettings:
    """Knobs of one evaluation run.

    num_samples: windows per row (paper: 1000). seed: everything derives from it. held_out_split: the data split
    the test windows came from ("test", "validation"; recorded in run.json). ddim_steps: steps of the
    `ddim` row (None: the config's `sampling.ddim_steps`). curve_points: intermediate diffusion states scored
    for Figure 3 (0: none); curve_windows: how many of the `ddpm` row's windows they are scored on (the first
    ones; None: all). fill: refill of the dropped dims, "noise" (original) or "zeros". decode_batch:
    windows per VAE call. precision: what the sampled rows' networks ran in ("none" = float32, "bfloat16",
    "float16"; recorded in run.json, set when the models are loaded). pianorolls: examples drawn per setting
    (Figure 2). midi_examples: MIDI files written per row and setting. original_infill: the `ddpm` infilling row
    as the released code ran it (U[0, 1) start, template pasted at level t; default False: N(0, I) start, level
    t − 1, docs/deviations.md). infill_resample: passes per reverse step of the `ddpm` and `ddim` infilling rows
    (1: the paper's replacement; more: RePaint's resampling, `LatentSampler.infill`). infill_repeat_start: where
    those rows start the gap (1: from noise, the paper's; less: from the kept chunks 16 bars before).
    sweep: further (scheduler, step count) pairs, each a row `SCHEDULER-K` in both settings (same seeds as
    `ddim`), e.g. (("ddim", 10), ("dpm-solver++", 20)).
    scoring: how rows are scored; extra_scorings: further scorings of the same decoded rows (other OA formulas),
    each written to its own folder `oa_<formula>/` (Tables 1–3 only: no curves, examples or note statistics).
    """

    num_samples: int = 1000
    seed: int = 42
    held_out_split: str | None = None
    ddim_steps: int | None = None
    curve_points: int = 10
    curve_windows: int | None = 250
    fill: str = "noise"
    decode_batch: int = 32
    pianorolls: int = 2
    midi_examples: int = 2
    precision: str = "none"
    original_infill: bool = False
    infill_resample: int = 1
    infill_repeat_start: float = 1.0
    sweep: tuple = ()
    scoring: tables.ScoringOptions = dataclasses.field(default_factory=tables.ScoringOptions)
    extra_scorings: tuple = ()


@dataclasses.dataclass
class EvaluationInputs:
    """What is evaluated.

    train_windows, test_windows: scaled windows `[M, 32, k]` of each split. scaler: the `LatentScaler` the
    models were trained with. vae: a loaded MusicVAE. diffusion: a `DiffusionModel`
    (`symdiff_tf.diffusion.inference.open_run`, or a bundle's `symdiff_tf.export.reload.open_bundle_model`), or
    None. mdn: (trained, sampler) from `symdiff_tf.mdn.inference.load_mdn`, or None.
    """

    train_windows: np.ndarray
    test_windows: np.ndarray
    scaler: object
    vae: object
    diffusion: object | None = None
    mdn: object | None = None


@dataclasses.dataclass
class Evaluation:
    """What `evaluate` found and wrote: `tables` {setting: {row: {metric: value or None}}}, `absent` (rows left
    out) and `unscored` (rows with None values) as {setting: {row: reason}}, and `paths` {kind: path written}
    (`tables.write_tables`)."""

    tables: dict
    absent: dict
    unscored: dict
    paths: dict


def check_inputs(inputs: EvaluationInputs) -> tuple[int, int]:
    """(num_chunks, k) of the windows; ValueError when the splits, scaler, VAE and models disagree."""
    shapes = {name: np.shape(getattr(inputs, name)) for name in ("train_windows", "test_windows")}
    for name, shape in shapes.items():
        if len(shape) != 3 or shape[0] == 0:
            raise ValueError(f"{name}: expected scaled windows [M, 32, k], got shape {shape}")
    if shapes["train_windows"][1:] != shapes["test_windows"][1:]:
        raise ValueError(f"train windows {shapes['train_windows']} and test windows {shapes['test_windows']} differ")
    _, num_chunks, k = shapes["train_windows"]
    if k != len(inputs.scaler.kept_dims):
        raise ValueError(f"windows have {k} dims, the latent scaler keeps {len(inputs.scaler.kept_dims)}")
    if inputs.vae.z_size != inputs.scaler.z_size:
        raise ValueError(f"the VAE has z_size {inputs.vae.z_size}, the latent scaler expects {inputs.scaler.z_size}")
    models = {"diffusion": inputs.diffusion and inputs.diffusion.network, "mdn": inputs.mdn and inputs.mdn[0].model}
    for name, model in models.items():
        if model is not None:
            expected = (num_chunks, k)
            got = (model.sequence_length, model.latent_dim)
            if got != expected:
                raise ValueError(f"the {name} model works on windows {got}, the data are {expected}")
    return num_chunks, k


def _absent_reasons(inputs: EvaluationInputs) -> dict:
    absent = {setting: {} for setting in SETTINGS}
    absent[INFILLING]["mdn"] = "the TransformerMDN is autoregressive and cannot condition on the final chunks"
    if inputs.mdn is None:
        absent[UNCONDITIONAL]["mdn"] = "no MDN was given (--mdn)"
    if inputs.diffusion is None:
        for setting in SETTINGS:
            absent[setting]["ddpm"] = absent[setting]["ddim"] = "no diffusion model was given"
    return absent


class _Decoded:
    """Tokens and note arrays of rows, decoded through `codec` (a `LatentCodec`); those decoded with `keep=True`
    (train and test, which serve both settings) are decoded once."""

    def __init__(self, codec, batch: int, progress: bool):
        self.codec, self.batch, self.progress, self._kept = codec, batch, progress, []

    def __call__(self, row: RowLatents, label: str, keep: bool = False):
        for kept_row, tokens, pieces in self._kept:
            if kept_row is row:
                return tokens, pieces
        tokens = decode_windows(self.codec, row.full, self.batch,
                                progress=f"decode {label}" if self.progress else None)
        pieces = [tokens_to_note_array(t) for t in tokens]
        if keep:
            self._kept.append((row, tokens, pieces))
        return tokens, pieces


def _generate_rows(inputs: EvaluationInputs, settings: EvaluationSettings, setting: str, train: RowLatents,
                   test: RowLatents, ddim_steps: int, codec, stages: "_Stages") -> dict:
    """{row: RowLatents} of one setting, in `ROWS` order; each group of rows a stage of `stages`."""
    n, seed = settings.num_samples, settings.seed
    rows = {"train": train, "test": test}
    if inputs.diffusion is not None:
        stages.begin(f"{setting}: generate ddpm, ddim")
        if setting == UNCONDITIONAL:
            rows.update(generate.ddpm_rows(inputs.diffusion, codec, n, seed, ddim_steps, settings.curve_points))
        else:
            rows.update(generate.infill_rows(inputs.diffusion, codec, test, seed, ddim_steps, settings.curve_points,
                                             original_infill=settings.original_infill,
                                             resample=settings.infill_resample,
                                             repeat_start=settings.infill_repeat_start))
        sweep = [pair for pair in settings.sweep if pair != ("ddim", ddim_steps)]  # the `ddim` row has that one
        if sweep:
            stages.begin(f"{setting}: generate " + ", ".join(generate.sweep_row_name(*pair) for pair in sweep))
            rows.update(generate.sweep_rows(inputs.diffusion, codec, setting, n, seed, sweep, test))
    if setting == UNCONDITIONAL and inputs.mdn is not None:
        stages.begin(f"{setting}: generate mdn")
        rows["mdn"] = generate.mdn_row(inputs.mdn, codec, n, seed)
    stages.begin(f"{setting}: generate baselines")
    rows.update(generate.baseline_rows(test, setting, seed, inputs.scaler))
    return {name: rows[name] for name in ordered_rows(rows)}


def _score_rows(rows: dict, pieces: dict, setting: str, train: RowLatents, num_chunks: int,
                scoring: tables.ScoringOptions, ground_truths: dict, with_errors: bool = True):
    """({row: {metric: value}}, {row: reason}, {row: Table 1 standard errors or None}) of one setting under
    `scoring` (the errors only `with_errors`, else {}); `ground_truths` caches the train row's statistics by
    (scored frames, scoring)."""
    key = (tables.scored_frames(setting, scoring), scoring)
    if key not in ground_truths:
        ground_truths[key] = tables.ground_truth_statistics(pieces["train"][1], num_chunks, setting, scoring)
    results, unscored, errors = {}, {}, {}
    for name, row in rows.items():
        results[name], reason = tables.score_row(pieces[name][1], row.scaled, ground_truths[key], train.scaled,
                                                 num_chunks, setting, scoring)
        if reason is not None:
            unscored[name] = reason
        if with_errors:
            errors[name] = tables.table1_errors(pieces[name][1], ground_truths[key], num_chunks, setting, scoring,
                                                seed=len(errors))
    return results, unscored, errors


def _refinement_curve(row: RowLatents, setting: str, ground_truth, train: RowLatents, decoded: _Decoded,
                      settings: EvaluationSettings, num_chunks: int) -> dict:
    """Figure 3 for one setting: the ten metrics of every intermediate state of the `ddpm` row (its first
    `settings.curve_windows` windows), decoded with the row's refill noise. {"steps": [K], metric: [K]}."""
    points = []
    windows = slice(settings.curve_windows)
    for k, state in enumerate(row.states):
        latents = generate.from_scaled(decoded.codec, state[windows], row.seeds[windows])
        pieces = decoded(latents, f"{setting} state {k + 1}/{len(row.states)}")[1]
        points.append(tables.score_row(pieces, latents.scaled, ground_truth, train.scaled, num_chunks, setting,
                                       settings.scoring)[0])
    return {"steps": [int(s) for s in row.state_steps], **{m: [p[m] for p in points] for m in tables.METRICS}}


def _write_examples(out_dir: pathlib.Path, tokens_by_setting: dict, settings: EvaluationSettings,
                    num_chunks: int) -> None:
    """Piano rolls (`pianorolls/{setting}_{i}.png`) and MIDI files (`midi/{setting}/{row}_{i}.mid`)."""
    from symdiff_tf.melody.render import tokens_to_midi

    gap = generate.infill_mask(num_chunks) == 0
    (out_dir / "pianorolls").mkdir(parents=True, exist_ok=True)
    for setting, tokens in tokens_by_setting.items():
        # infilling: the test window (the original) and what each method made of it, as the paper's Figure 2
        shown = {name: t for name, t in tokens.items() if setting == UNCONDITIONAL or name != "train"}
        for i in range(min(settings.pianorolls, settings.num_samples)):
            figures.save_row_pianorolls(out_dir / "pianorolls" / f"{setting}_{i}.png", shown, i,
                                        gap if setting == INFILLING else None, title=f"{setting}, example {i}")
        (out_dir / "midi" / setting).mkdir(parents=True, exist_ok=True)
        for name, row_tokens in tokens.items():
            for i in range(min(settings.midi_examples, settings.num_samples)):
                tokens_to_midi(row_tokens[i], out_dir / "midi" / setting / f"{name}_{i}.mid")


class _Stages:
    """The evaluation's progress bar (one tick per stage group) and the wall seconds of each labelled stage, for
    `run.json`'s `stage_seconds` (where an evaluation's time goes)."""

    def __init__(self, total: int, progress: bool):
        import tqdm

        self.bar = tqdm.tqdm(total=total, desc="evaluate", unit="stage", disable=not progress)
        self.seconds = {}
        self._label, self._began = None, 0.0

    def begin(self, label: str):
        """Ends the running stage and starts `label` (shown beside the bar)."""
        self._end()
        self.bar.set_postfix_str(label)
        self._label, self._began = label, time.perf_counter()

    def _end(self):
        if self._label is not None:
            self.seconds[self._label] = round(time.perf_counter() - self._began, 1)
            self._label = None

    def close(self):
        self._end()
        self.bar.close()


def evaluate(inputs: EvaluationInputs, settings: EvaluationSettings, out_dir, progress: bool = True) -> Evaluation:
    """Runs the evaluation and writes everything to `out_dir`; returns the `Evaluation` (a value that cannot be
    computed is None, with its reason: `tables.score_row`).

    Written: `tables.json`, `tables.csv`, `tables.md`, `run.json` (settings, absent rows, rows not fully scored and
    why, the wall seconds of each stage), `listening.json` and `listening.md` (what a listener hears, `listening_table`),
    `standard_errors.json` (bootstrap standard errors of each row's Table 1 numbers over its windows),
    `note_statistics.json`, `curves.json` and `figure3_curves.png` (when `curve_points`),
    `pianorolls/{setting}_{i}.png`, `midi/{setting}/{row}_{i}.mid`.
    """
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    num_chunks, _ = check_inputs(inputs)
    n, seed, fill, scoring = settings.num_samples, settings.seed, settings.fill, settings.scoring
    if n < 2:
        raise ValueError(f"num_samples must be at least 2 (FD needs two samples per set), got {n}")
    from symdiff_tf.generation.codec import LatentCodec

    ddim_steps = settings.ddim_steps
    if inputs.diffusion is not None and ddim_steps is None:
        ddim_steps = inputs.diffusion.config.sampling.ddim_steps
    codec = LatentCodec(inputs.vae, inputs.scaler, fill)
    with_curves = bool(settings.curve_points and inputs.diffusion is not None)
    stages = _Stages(2 + 2 * len(SETTINGS) + with_curves, progress)
    bar = stages.bar

    stages.begin("draw windows")
    train = generate.from_scaled(codec, generate.draw_windows(inputs.train_windows, n, seed),
                                 generate.row_seeds(seed, "train", n))
    test = generate.from_scaled(codec, generate.draw_windows(inputs.test_windows, n, seed + 1),
                                generate.row_seeds(seed, "test", n))
    bar.update()
    decoded = _Decoded(codec, settings.decode_batch, progress)
    results, note_stats, tokens_by_setting, curves, unscored, listening, errors = {}, {}, {}, {}, {}, {}, {}
    ground_truths = {}  # (scored frames, scoring) -> train row statistics: "all" frames serve both settings
    extra_results = {}  # extra scoring -> (tables, unscored)
    for setting in SETTINGS:
        rows = _generate_rows(inputs, settings, setting, train, test, ddim_steps, codec, stages)
        bar.update()
        stages.begin(f"{setting}: decode and score")
        pieces = {name: decoded(row, f"{setting}/{name}", keep=name in ("train", "test"))
                  for name, row in rows.items()}
        results[setting], unscored[setting], errors[setting] = _score_rows(rows, pieces, setting, train, num_chunks,
                                                                           scoring, ground_truths)
        for extra in settings.extra_scorings:
            extra_results.setdefault(extra, ({}, {}))
            extra_results[extra][0][setting], extra_results[extra][1][setting], _ = _score_rows(
                rows, pieces, setting, train, num_chunks, extra, ground_truths, with_errors=False)
        ground_truth = ground_truths[(tables.scored_frames(setting, scoring), scoring)]
        note_stats[setting] = {name: tables.mean_note_statistics(pieces[name][1], num_chunks) for name in rows}
        listening[setting] = listening_table({name: pieces[name][1] for name in rows}, setting, num_chunks,
                                             generate.infill_gap(num_chunks))
        tokens_by_setting[setting] = {name: pieces[name][0] for name in rows}
        if with_curves:
            stages.begin(f"{setting}: refinement curve")
            curves[setting] = _refinement_curve(rows["ddpm"], setting, ground_truth, train, decoded, settings,
                                                num_chunks)
        bar.update()
    if with_curves:
        stages.begin("figure 3")
        (out_dir / "curves.json").write_text(json.dumps(curves, indent=1) + "\n", encoding="utf-8")
        figures.save_curves(out_dir / "figure3_curves.png", curves)
        bar.update()

    stages.begin("figures and tables")
    _write_examples(out_dir, tokens_by_setting, settings, num_chunks)
    meta = {"num_samples": n, "seed": seed, "test_row_split": settings.held_out_split, "num_chunks": num_chunks,
            "kept_dims": len(inputs.scaler.kept_dims),
            "z_size": inputs.scaler.z_size, "fill": fill, "ddim_steps": ddim_steps,
            "ddpm_steps": inputs.diffusion.sampler.num_diffusion_steps if inputs.diffusion else None,
            "sweep": [[name, int(k)] for name, k in settings.sweep], "seeds": "one per window",
            "precision": settings.precision,
            "ground_truth": "train row (N windows drawn from the train split, decoded the same way)",
            "infill_gap_chunks": list(generate.infill_gap(num_chunks)), "original_infill": settings.original_infill,
            "infill_resample": settings.infill_resample, "infill_repeat_start": settings.infill_repeat_start,
            "curve_points": settings.curve_points if with_curves else 0,
            "curve_windows": min(n, settings.curve_windows or n) if with_curves else 0,
            "train_windows_available": int(len(inputs.train_windows)),
            "test_windows_available": int(len(inputs.test_windows)),
            **{f"scoring_{key}": value for key, value in dataclasses.asdict(scoring).items()}}
    absent = _absent_reasons(inputs)
    bar.update()
    stages.close()
    meta["stage_seconds"] = stages.seconds
    paths = tables.write_tables(out_dir, results, absent, meta, note_stats, unscored)
    paths.update(write_listening(out_dir, listening))
    paths["standard_errors"] = out_dir / "standard_errors.json"
    paths["standard_errors"].write_text(json.dumps(errors, indent=1) + "\n", encoding="utf-8")
    for extra, (extra_tables, extra_unscored) in extra_results.items():
        extra_meta = {**meta, **{f"scoring_{key}": value for key, value in dataclasses.asdict(extra).items()}}
        extra_dir = out_dir / EXTRA_SCORING_DIR.format(formula=extra.formula)
        paths[extra_dir.name] = tables.write_tables(extra_dir, extra_tables, absent, extra_meta,
                                                    unscored=extra_unscored)["markdown"]
    return Evaluation(results, absent, unscored, paths)
