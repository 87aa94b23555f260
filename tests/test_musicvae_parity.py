"""MusicVAE parity with magenta itself: a random magenta checkpoint, imported, must give magenta's numbers."""
import numpy as np
import pytest

from magenta_ref import magenta_available, run_magenta_script

pytestmark = [pytest.mark.magenta,
              pytest.mark.skipif(not magenta_available(), reason="magenta not installed (make install-test)")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Magenta builds a random checkpoint with the shapes of our `tiny` config (stacked encoder) and its outputs."""
    out = tmp_path_factory.mktemp("magenta_tiny")
    prefix = run_magenta_script("musicvae_reference.py", out, "--base", "cat-mel_2bar_small", "--z-size", "8",
                                "--enc", "24,16", "--dec", "20,12", "--batch", "8", "--weight-scale", "2.0",
                                timeout=600).strip().splitlines()[-1]
    return prefix, dict(np.load(out / "reference.npz"))


def import_magenta_command(argv):
    """Runs `symdiff import-magenta ARGV` as the command line does (a bad checkpoint: exit code 1, one line)."""
    from symdiff_tf.cli import main

    return main(["import-magenta", *argv])


@pytest.fixture(scope="module")
def imported(reference):
    from symdiff_tf.musicvae.magenta_import import import_checkpoint

    return import_checkpoint(reference[0], "tiny")


def test_magenta_greedy_reference_is_argmax(reference):
    ref = reference[1]
    assert np.array_equal(ref["greedy_logits"].argmax(-1), ref["greedy"])
    assert len(np.unique(ref["greedy"])) > 3  # a decode that varies, or the comparison below means little


def test_encoder_matches_magenta(reference, imported):
    ref = reference[1]
    mu, sigma = imported.encode(ref["tokens"])
    np.testing.assert_allclose(mu, ref["mu"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(sigma, ref["sigma"], atol=1e-4, rtol=0)
    assert np.abs(ref["mu"]).max() > 0.1


def test_teacher_forced_logits_match_magenta(reference, imported):
    ref = reference[1]
    logits = imported.teacher_forced_logits(ref["tokens"], ref["z"])
    np.testing.assert_allclose(logits, ref["logits"], atol=1e-4, rtol=0)


def test_greedy_decode_matches_magenta(reference, imported):
    ref = reference[1]
    assert np.array_equal(imported.decode(ref["z"], temperature=0.0), ref["greedy"])


def test_import_command_and_load(reference, tmp_path):
    from symdiff_tf import musicvae
    from symdiff_tf.cli.main import COMMANDS

    assert COMMANDS["import-magenta"] == "import_magenta"
    out = tmp_path / "tiny.keras"
    assert import_magenta_command([str(reference[0]), "--config", "tiny", "--out", str(out)]) == 0
    model = musicvae.load(out)
    ref = reference[1]
    assert np.array_equal(model.decode(ref["z"]), ref["greedy"])


def test_import_refuses_other_config_with_a_list(reference, capsys):
    from symdiff_tf.musicvae.magenta_import import CheckpointMismatch, import_checkpoint

    with pytest.raises(CheckpointMismatch) as err:
        import_checkpoint(reference[0], "tiny-single")
    message = str(err.value)
    assert "decoder/multi_rnn_cell/cell_0/lstm_cell/kernel: shape [118, 80], expected [112, 64]" in message
    assert "encoder/mu/kernel" in message
    assert import_magenta_command([str(reference[0]), "--config", "cat-mel_2bar_small", "--out", "x.keras"]) == 1
    assert "does not match MusicVAE config 'cat-mel_2bar_small'" in capsys.readouterr().err


def test_import_from_tar_and_folder(reference, imported, tmp_path):
    import pathlib
    import tarfile

    from symdiff_tf.musicvae.magenta_import import import_checkpoint

    folder = pathlib.Path(reference[0]).parent
    archive = tmp_path / "tiny.tar"
    with tarfile.open(archive, "w") as tar:
        for path in folder.iterdir():
            if path.name.startswith("model.ckpt"):
                tar.add(path, arcname=path.name)
    z = reference[1]["z"]
    expected = imported.decode(z)
    for source in (archive, folder):
        assert np.array_equal(import_checkpoint(source, "tiny").decode(z), expected)
