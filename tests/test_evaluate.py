"""`symdiff evaluate` end to end with tiny models saved the way the real commands save them (a tiny MusicVAE
`.keras`, tiny DDPM and MDN work directories from `symdiff train`), and the pieces it is made of."""
import json

import numpy as np
import pytest

from symdiff_tf import cli, musicvae
from symdiff_tf.data.scaler import LatentScaler
from symdiff_tf.data.sources import synthetic_windows
from symdiff_tf.evaluation.generate import ROWS
from symdiff_tf.evaluation.tables import METRICS, ScoringOptions, framewise_view, scored_frames
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


def _evaluate(root, out, *extra):
    args = ["evaluate", "--diffusion", str(root / "ddpm"), "--vae", str(root / "vae.keras"), "--data",
            str(root / "windows.npz"), "--num-samples", "4", "--ddim-steps", "3", "--curve-points", "2",
            "--seed", "5", "--out", str(out), "--no-progress", *extra]
    assert cli.main(args) == 0
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


def test_a_scaler_that_does_not_fit_the_data_is_refused(trained, tmp_path):
    LatentScaler((0, 1, 2), z_size=8, minimum=-1.0, maximum=1.0).save(tmp_path / "scaling.json")
    with pytest.raises(SystemExit, match="windows have 4 dims, the latent scaler keeps 3"):
        _evaluate(trained, tmp_path / "out", "--scaler", str(tmp_path / "scaling.json"))


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
