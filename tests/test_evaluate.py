"""`symdiff evaluate` end to end with tiny models saved the way the real commands save them (a tiny MusicVAE
`.keras`, tiny DDPM and MDN work directories from `symdiff train`), and the pieces it is made of."""
import json

import numpy as np
import pytest

from symdiff_tf import cli, musicvae
from symdiff_tf.data.scaler import LatentScaler
from symdiff_tf.data.sources import synthetic_windows
from symdiff_tf.evaluation.generate import ROWS
from symdiff_tf.evaluation.tables import (
    METRICS,
    TABLE1,
    TABLE2,
    ScoringOptions,
    framewise_view,
    ground_truth_statistics,
    mean_note_statistics,
    score_row,
    scored_frames,
    terminal_table,
    write_tables,
)
from symdiff_tf.melody.render import midi_to_tokens
from symdiff_tf.paths import REPO_ROOT

TINY = str(REPO_ROOT / "configs" / "tiny.yaml")
KEPT_DIMS = (1, 3, 5, 7)  # of the tiny VAE's 8: four dims are refilled with noise before decoding


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny VAE file, latent windows (.npz), a DDPM and an MDN work directory with their latent scaler."""
    import keras

    root = tmp_path_factory.mktemp("evaluate")
    keras.utils.set_random_seed(1)
    vae = musicvae.build_model("tiny")
    biased = 0
    for variable in vae.trainable_variables:  # large weights: decoded melodies differ from latent to latent
        value = np.random.default_rng(2).normal(0, 1.0, variable.shape).astype("float32")
        if variable.path == "output_projection/bias":
            value[0] += 3.0  # about 30% "hold" steps, so that note durations vary
            biased += 1
        variable.assign(value)
    assert biased == 1
    vae.save(root / "vae.keras")
    data = root / "windows.npz"
    np.savez(data, train=synthetic_windows(40, len(KEPT_DIMS), seed=0),
             test=synthetic_windows(12, len(KEPT_DIMS), seed=1))
    scaler = LatentScaler(KEPT_DIMS, z_size=8, minimum=-2.0, maximum=2.0)
    for model in ("ddpm", "mdn"):
        workdir = root / model
        assert cli.main(["train", "--config", TINY, "--model", model, "--data", str(data), "--workdir",
                         str(workdir), "--max-steps", "2", "--no-progress",
                         "--set", f"{model}.model.latent_dim={len(KEPT_DIMS)}"]) == 0
        scaler.save(workdir)
    return root


def _evaluate_args(root, out, *extra):
    return ["evaluate", "--diffusion", str(root / "ddpm"), "--vae", str(root / "vae.keras"), "--data",
            str(root / "windows.npz"), "--num-samples", "4", "--ddim-steps", "3", "--curve-points", "2",
            "--seed", "5", "--out", str(out), "--no-progress", *extra]


def _evaluate(root, out, *extra):
    assert cli.main(_evaluate_args(root, out, *extra)) == 0
    return json.loads((out / "tables.json").read_text())


@pytest.fixture(scope="module")
def with_mdn(trained):
    out = trained / "out_mdn"
    return out, _evaluate(trained, out, "--mdn", str(trained / "mdn"))


def test_tables_have_every_row_and_metric(with_mdn):
    out, tables = with_mdn
    assert list(tables) == ["unconditional", "infilling"]
    assert list(tables["unconditional"]) == list(ROWS)
    assert list(tables["infilling"]) == [row for row in ROWS if row != "mdn"]
    for rows in tables.values():
        for values in rows.values():
            assert list(values) == list(METRICS)
    markdown = (out / "tables.md").read_text()
    assert "infilling / mdn: the TransformerMDN is autoregressive" in markdown
    for name in ("tables.csv", "curves.json", "figure3_curves.png", "pianorolls/infilling_0.png",
                 "midi/unconditional/ddim_1.mid", "note_statistics.json"):
        assert (out / name).is_file(), name
    curves = json.loads((out / "curves.json").read_text())
    assert curves["unconditional"]["steps"] == [10, 20]  # tiny schedule: 20 steps, 2 points
    assert json.loads((out / "run.json").read_text())["test_row_split"] == "test"  # the .npz array's name


def test_values_are_in_range_and_train_is_the_ground_truth(with_mdn):
    _, tables = with_mdn
    for setting, rows in tables.items():
        train = rows["train"]
        assert [train[m] for m in METRICS[:4]] == [1.0, 1.0, 1.0, 1.0]
        assert abs(train["fd"]) < 1e-6 and abs(train["mmd"]) < 1e-9
        for row, values in rows.items():
            for name in METRICS[:4]:
                assert 0.0 <= values[name] <= 1.0, (setting, row, name)
            assert 0.0 <= values["pitch_oa_mean"] <= 1.0 and 0.0 <= values["duration_oa_mean"] <= 1.0
            assert 0.0 <= values["pitch_oa_var"] <= 0.25 and 0.0 <= values["duration_oa_var"] <= 0.25
            assert values["fd"] > -1e-6 and values["mmd"] > -1e-9
            if row != "train":
                assert values["fd"] > 1e-4, (setting, row)  # a different set of windows
    # whole-piece frames: the train and test rows do not depend on the setting
    assert tables["infilling"]["test"] == tables["unconditional"]["test"]


@pytest.mark.parametrize("row", ["ddpm", "ddim", "interpolation", "prior"])
def test_infilling_keeps_the_first_and_last_16_bars(with_mdn, row):
    out, _ = with_mdn
    for i in range(2):
        test = midi_to_tokens(out / "midi" / "infilling" / f"test_{i}.mid", n_chunks=32)
        filled = midi_to_tokens(out / "midi" / "infilling" / f"{row}_{i}.mid", n_chunks=32)
        np.testing.assert_array_equal(filled[:8], test[:8])
        np.testing.assert_array_equal(filled[24:], test[24:])
        assert (filled[8:24] != test[8:24]).any() or row == "interpolation"


def test_seeded_runs_agree_and_rows_without_an_mdn_are_absent(trained, with_mdn):
    _, first = with_mdn
    out = trained / "out_again"
    again = _evaluate(trained, out)
    assert "mdn" not in again["unconditional"]
    assert "unconditional / mdn: no MDN was given" in (out / "tables.md").read_text()
    for setting, rows in again.items():
        assert rows == {row: values for row, values in first[setting].items() if row != "mdn"}


def test_the_terminal_shows_table_1_and_what_to_run_next(trained, tmp_path, capsys):
    out = tmp_path / "out"
    tables = _evaluate(trained, out)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("Table 1: framewise self-similarity")
    rows = {line.split()[0]: line.split()[1:] for line in printed[3:] if line.split()[0] in ROWS}
    assert list(rows) == [row for row in ROWS if row != "mdn"]
    for row, cells in rows.items():  # four values per setting, as in tables.json
        expected = [tables[setting][row][name] for setting in ("unconditional", "infilling") for name in TABLE1]
        np.testing.assert_allclose([float(cell) for cell in cells], expected, atol=5e-5)
    assert "– unconditional / mdn: no MDN was given (--mdn)" in printed
    assert printed[-2].startswith(f"wrote {out / 'tables.md'} (Tables 1-3)")
    assert printed[-1].startswith("next: ")


def test_a_ddim_sweep_adds_rows_that_start_from_the_ddim_rows_noise(trained, with_mdn):
    _, base = with_mdn  # --ddim-steps 3
    out = trained / "out_sweep"
    swept = _evaluate(trained, out, "--ddim-sweep", "5", "3", "1", "--dpm-sweep", "4", "2")
    for setting in ("unconditional", "infilling"):
        # the ddim row's 3 steps are not repeated; sweep rows follow ddim, by scheduler and step count
        assert list(swept[setting]) == ["train", "test", "ddpm", "ddim", "ddim-1", "ddim-5", "dpm-solver++-2",
                                        "dpm-solver++-4", "interpolation", "prior"]
        assert swept[setting]["ddim"] == base[setting]["ddim"]
        assert swept[setting]["ddim-5"] != swept[setting]["ddim-1"]
        assert swept[setting]["dpm-solver++-4"] != swept[setting]["ddim-5"]
    # ddim-5 is exactly the ddim row of a run with 5 steps: the same seeds, only the step count differs
    five = _evaluate(trained, trained / "out_five", "--ddim-steps", "5")
    assert swept["unconditional"]["ddim-5"] == five["unconditional"]["ddim"]
    assert swept["infilling"]["ddim-5"] == five["infilling"]["ddim"]
    assert json.loads((out / "run.json").read_text())["sweep"] == [["ddim", 5], ["ddim", 3], ["ddim", 1],
                                                                   ["dpm-solver++", 4], ["dpm-solver++", 2]]
    assert "| ddim-5 |" in (out / "tables.md").read_text()


def test_both_oa_formulas_score_the_same_samples(trained, with_mdn, capsys):
    _, exact = with_mdn
    out = trained / "out_both"
    tables = _evaluate(trained, out, "--oa-formula", "both", "--mdn", str(trained / "mdn"))
    assert tables == exact
    original = json.loads((out / "oa_original" / "tables.json").read_text())
    assert json.loads((out / "oa_original" / "run.json").read_text())["scoring_formula"] == "original"
    alone = _evaluate(trained, trained / "out_original", "--oa-formula", "original", "--mdn", str(trained / "mdn"))
    assert original == alone
    assert original["unconditional"]["ddpm"]["pitch_oa_mean"] != exact["unconditional"]["ddpm"]["pitch_oa_mean"]
    assert f"{out / 'oa_original' / 'tables.md'} (the original OA formula)" in capsys.readouterr().out


def test_sampling_in_bfloat16_is_recorded_and_changes_only_sampled_rows(trained, with_mdn):
    _, full = with_mdn
    out = trained / "out_bf16"
    half = _evaluate(trained, out, "--precision", "bfloat16", "--mdn", str(trained / "mdn"))
    assert json.loads((out / "run.json").read_text())["precision"] == "bfloat16"
    for setting, rows in half.items():
        for row in ("train", "test", "interpolation", "prior"):
            assert rows[row] == full[setting][row]
    assert half["unconditional"]["ddpm"] != full["unconditional"]["ddpm"]


def test_resampled_infilling_changes_only_the_sampled_infilling_rows(trained, with_mdn, capsys):
    _, plain = with_mdn
    out = trained / "out_resampled"
    resampled = _evaluate(trained, out, "--infill-resample", "3", "--mdn", str(trained / "mdn"))
    assert json.loads((out / "run.json").read_text())["infill_resample"] == 3
    assert resampled["unconditional"] == plain["unconditional"]
    for row in ("train", "test", "interpolation", "prior"):
        assert resampled["infilling"][row] == plain["infilling"][row]
    assert resampled["infilling"]["ddpm"] != plain["infilling"]["ddpm"]
    assert cli.main(_evaluate_args(trained, trained / "out_bad", "--infill-resample", "0")) == 1
    assert "--infill-resample 0: expected at least 1 pass per step" in capsys.readouterr().err


def test_split_is_for_tfds_data_only(trained, tmp_path, capsys):
    assert cli.main(_evaluate_args(trained, tmp_path / "out", "--split", "test")) == 1
    assert "--split test: only for tfds data" in capsys.readouterr().err


def test_a_ddim_sweep_step_count_below_1_is_refused(trained, tmp_path, capsys):
    assert cli.main(_evaluate_args(trained, tmp_path / "out", "--ddim-sweep", "0")) == 1
    assert "--ddim-sweep/--dpm-sweep 0: step counts must be at least 1" in capsys.readouterr().err


def _notes(pitches, durations) -> np.ndarray:
    """One note per 4 s chunk over 32 chunks: [32, 3] (pitch, start s, end s)."""
    return np.array([[pitches[c % len(pitches)], 4.0 * c, 4.0 * c + durations[c % len(durations)]]
                     for c in range(32)], np.float64)


def test_a_silent_row_is_reported_empty_with_its_reason(tmp_path):
    import warnings

    sounding = [_notes([60 + p, 67, 64, 72 - p], [1.0, 0.5, 2.0]) for p in range(4)]
    silent = [np.zeros((0, 3))] * 4
    latents = np.random.default_rng(0).normal(size=(4, 32, 4))
    options = ScoringOptions()
    truth = ground_truth_statistics(sounding, 32, "unconditional", options)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Mean of empty slice"
        values, reason = score_row(silent, latents + 0.5, truth, latents, 32, "unconditional", options)
        stats = mean_note_statistics(silent, 32)
    assert reason == "all 4 windows decode to silence (no notes in the scored frames): no framewise scores"
    assert all(values[name] is None for name in TABLE1 + TABLE2) and values["fd"] > 0.1
    assert stats["pitch_class_entropy"] is None and stats["rest_share"] == 1.0
    train_values, train_reason = score_row(sounding, latents, truth, latents, 32, "unconditional", options)
    assert train_reason is None and [train_values[name] for name in TABLE1] == [1.0] * 4

    tables = {"unconditional": {"train": train_values, "ddpm": values}}
    unscored = {"unconditional": {"ddpm": reason}}
    paths = write_tables(tmp_path, tables, {}, {"num_samples": 4}, {"unconditional": {"ddpm": stats}}, unscored)
    assert json.loads(paths["json"].read_text())["unconditional"]["ddpm"]["pitch_consistency"] is None
    assert json.loads(paths["run"].read_text())["unscored_rows"] == unscored
    assert paths["csv"].read_text().splitlines()[2].startswith("unconditional,ddpm,,,,,,,,,")
    markdown = paths["markdown"].read_text()
    assert "nan" not in markdown.split() and "| nan" not in markdown
    assert f"- unconditional / ddpm: {reason}" in markdown
    text = terminal_table(tables, {}, unscored).splitlines()
    assert text[-2].split() == ["ddpm"] + ["–"] * 8 and text[-1] == f"– unconditional / ddpm: {reason}"


def test_table_1_without_a_ground_truth_value_says_why():
    sounding = [_notes([60 + p, 67, 64, 72 - p], [1.0, 0.5, 2.0]) for p in range(4)]
    latents = np.random.default_rng(0).normal(size=(4, 32, 4))
    options = ScoringOptions()
    # a train row of one repeated note: every OA is 1, so its OA variances are 0 and Eq. 10 cannot divide by them
    constant = ground_truth_statistics([_notes([60], [1.0])] * 4, 32, "unconditional", options)
    values, reason = score_row(sounding, latents, constant, latents, 32, "unconditional", options)
    assert values["pitch_variance"] is None and values["duration_variance"] is None
    assert 0.0 <= values["pitch_consistency"] < 1.0 and values["pitch_oa_var"] > 0
    assert reason == "pitch_variance, duration_variance: the train row's value is 0 (Eq. 10 divides by it)"
    # a silent train row gives no ground truth at all; the other rows keep Tables 2 and 3
    assert ground_truth_statistics([np.zeros((0, 3))] * 4, 32, "unconditional", options) is None
    values, reason = score_row(sounding, latents, None, latents, 32, "unconditional", options)
    assert all(values[name] is None for name in TABLE1) and all(values[name] is not None for name in TABLE2)
    assert reason == "the train row is silent, so Table 1 has no ground truth"


def test_a_scaler_that_does_not_fit_the_data_is_refused(trained, tmp_path, capsys):
    LatentScaler((0, 1, 2), z_size=8, minimum=-1.0, maximum=1.0).save(tmp_path / "scaling.json")
    assert cli.main(_evaluate_args(trained, tmp_path / "out", "--scaler", str(tmp_path / "scaling.json"))) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"symdiff evaluate: {tmp_path / 'scaling.json'}: keeps 3 latent dims, the network takes 4")


def test_gap_frames_are_those_touching_the_infilled_bars():
    # one note per 4 s chunk, pitch = chunk index: frames over [28, 100) s keep chunks 7..24
    notes = np.array([[float(c), 4.0 * c, 4.0 * c + 1.0] for c in range(32)])
    (view,), spec = framewise_view([notes], 32, "infilling", ScoringOptions(infill_frames="gap"))
    assert spec.total_seconds == 72.0 and len(spec.frame_starts(0.0)) == 17
    np.testing.assert_array_equal(view[:, 0], np.arange(7, 25))
    assert view[0, 1] == 0.0
    (whole,), whole_spec = framewise_view([notes], 32, "unconditional", ScoringOptions(infill_frames="gap"))
    assert whole_spec.total_seconds == 128.0 and len(whole) == 32
    # the ground truth is computed once per scored view: shared by both settings unless infilling scores the gap
    assert scored_frames("infilling", ScoringOptions(infill_frames="gap")) == "gap"
    assert scored_frames("unconditional", ScoringOptions(infill_frames="gap")) == "all"
    assert scored_frames("infilling", ScoringOptions()) == scored_frames("unconditional", ScoringOptions()) == "all"


def test_what_a_listener_hears_is_written_for_every_row(with_mdn, trained):
    out, tables = with_mdn
    heard = json.loads((out / "listening.json").read_text())
    assert {setting: list(rows) for setting, rows in heard.items()} == {
        setting: list(rows) for setting, rows in tables.items()}
    assert all(rows[name]["pieces"] == 4 for rows in heard.values() for name in rows)
    # the infilled rows are scored against the test windows they were made from: kept bars are theirs, so the
    # repetition-aware score exists for them and not for the data's own rows
    assert "repetition_f1" in heard["infilling"]["ddpm"] and "repetition_f1" not in heard["infilling"]["test"]
    assert "repetition_f1" not in heard["unconditional"]["ddpm"]
    assert heard["unconditional"]["train"] == heard["infilling"]["train"]
    assert "## infilling" in (out / "listening.md").read_text()
