"""Every command fails like a tool: a user's mistake is one line on stderr and exit code 1, no traceback; the
terminal shows our output, not TensorFlow's start-up noise. Run as a user would: the `symdiff` program."""
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from symdiff_tf.paths import REPO_ROOT
from symdiff_tf.cli.terminal import is_noise

SYMDIFF = str(pathlib.Path(sys.executable).parent / "symdiff")
TINY = str(REPO_ROOT / "configs" / "tiny.yaml")


def run(*args, env=None):
    return subprocess.run([SYMDIFF, *args], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300, env=env)


def assert_user_error(result, *names):
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("symdiff ")
    for name in names:
        assert name in last, last


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    (folder / "one_byte.npy").write_bytes(b"x")
    np.save(folder / "wrong_shape.npy", np.zeros((3, 5), np.float32))
    (folder / "empty_dir").mkdir()
    (folder / "song.mid").write_bytes(b"not midi")
    return folder


def test_noise_filter_keeps_ours():
    assert is_noise(b"I0000 00:00:1795979361.862216   13395 port.cc:153] oneDNN custom operations are on.")
    assert is_noise(b"E0000 00:00:1795977572.940728    3206 cuda_platform.cc:52] failed call to cuInit: INTERNAL")
    assert is_noise(b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR")
    assert is_noise(b"E0000 00:00:1795985397.122871    9320 util.cc:131] oneDNN supports DT_INT32 only on platforms "
                    b"with AVX-512. Falling back to the default Eigen-based implementation if present.")
    assert not is_noise(b"E0000 00:00:1795977572.940728    3206 op_kernel.cc:52] OOM when allocating tensor")
    assert not is_noise(b"symdiff train: --data 'x.npy': no such file")
    assert not is_noise(b"Traceback (most recent call last):")


def test_describe_keeps_the_terminal_quiet():
    result = run("describe", "--config", "configs/paper.yaml")
    assert result.returncode == 0
    assert "ddpm params=25579946" in result.stdout
    assert len(result.stderr.strip().splitlines()) <= 5, result.stderr


def test_train_missing_data(tmp_path):
    assert_user_error(run("train", "--config", TINY, "--data", str(tmp_path / "MISSING.npy"),
                          "--workdir", str(tmp_path / "w")), "MISSING.npy")


def test_train_missing_config(tmp_path):
    assert_user_error(run("train", "--config", "configs/nope.yaml", "--data", "synthetic:8",
                          "--workdir", str(tmp_path / "w")), "configs/nope.yaml")


def test_train_one_byte_array(tmp_path, bad_files):
    result = run("train", "--config", TINY, "--data", str(bad_files / "one_byte.npy"), "--workdir",
                 str(tmp_path / "w"))
    assert_user_error(result, "one_byte.npy")
    assert "allow_pickle" not in result.stderr


def test_verbose_shows_the_traceback(tmp_path):
    result = run("train", "--config", "configs/nope.yaml", "--data", "synthetic:8", "--workdir",
                 str(tmp_path / "w"), "--verbose")
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_train_vae_bad_array(tmp_path, bad_files):
    assert_user_error(run("train-vae", "--config", "tiny", "--data", str(bad_files / "wrong_shape.npy"),
                          "--workdir", str(tmp_path / "w")), "wrong_shape.npy")


def test_import_magenta_garbage(tmp_path, bad_files):
    assert_user_error(run("import-magenta", str(bad_files / "one_byte.npy"), "--config", "tiny", "--out",
                          str(tmp_path / "x.keras")), "one_byte.npy")


@pytest.fixture(scope="module")
def tiny_root(tiny_run):
    """The folder of the shared tiny run (conftest.py): `ddpm/` (4 latent dims) and `vae.keras`."""
    vae_path, run = tiny_run
    assert run == vae_path.parent / "ddpm"
    return vae_path.parent


def test_describe_missing_config():
    assert_user_error(run("describe", "--config", "configs/nope.yaml"), "configs/nope.yaml")


def test_melodies_folder_without_midi(tmp_path, bad_files):
    assert_user_error(run("melodies", str(bad_files / "empty_dir"), "--out", str(tmp_path / "out")), "empty_dir",
                      "no MIDI files")


def test_sample_missing_run(tmp_path):
    assert_user_error(run("sample", "--checkpoint", str(tmp_path / "nonexistent"), "--out", str(tmp_path / "x.npy")),
                      "nonexistent")


def test_sample_folder_without_checkpoint(tmp_path, bad_files):
    assert_user_error(run("sample", "--checkpoint", str(bad_files / "empty_dir"), "--out", str(tmp_path / "x.npy")),
                      "empty_dir", "no checkpoint")


def test_sample_shows_progress_over_the_steps(tiny_root, tmp_path):
    result = run("sample", "--checkpoint", str(tiny_root / "ddpm"), "--num", "2", "--out", str(tmp_path / "x.npy"))
    assert result.returncode == 0, result.stderr
    assert "sample (ddpm)" in result.stderr and "20/20" in result.stderr  # tiny.yaml: 20 diffusion steps
    quiet = run("sample", "--checkpoint", str(tiny_root / "ddpm"), "--num", "2", "--out", str(tmp_path / "y.npy"),
                "--no-progress")
    assert quiet.returncode == 0 and "sample (ddpm)" not in quiet.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), np.load(tmp_path / "y.npy"))


def test_infill_unreadable_template(tiny_root, tmp_path, bad_files):
    assert_user_error(run("infill", "--checkpoint", str(tiny_root / "ddpm"), "--template",
                          str(bad_files / "one_byte.npy"), "--out", str(tmp_path / "x.npy")), "one_byte.npy")


def test_infill_template_of_the_wrong_shape(tiny_root, tmp_path, bad_files):
    result = run("infill", "--checkpoint", str(tiny_root / "ddpm"), "--template", str(bad_files / "wrong_shape.npy"),
                 "--out", str(tmp_path / "x.npy"))
    assert_user_error(result, "wrong_shape.npy", "[B, 32, 4]")


def test_evaluate_missing_vae(tiny_root, tmp_path):
    assert_user_error(run("evaluate", "--diffusion", str(tiny_root / "ddpm"), "--vae", str(tmp_path / "MISSING.keras"),
                          "--data", "x.npz", "--out", str(tmp_path / "out")), "MISSING.keras")


def test_evaluate_run_without_checkpoint(tiny_root, tmp_path, bad_files):
    assert_user_error(run("evaluate", "--diffusion", str(bad_files / "empty_dir"), "--vae",
                          str(tiny_root / "vae.keras"), "--data", "x.npz", "--out", str(tmp_path / "out")),
                      "empty_dir", "no checkpoint")


def test_evaluate_bad_windows(tiny_root, tmp_path, bad_files):
    assert_user_error(run("evaluate", "--diffusion", str(tiny_root / "ddpm"), "--vae", str(tiny_root / "vae.keras"),
                          "--data", str(bad_files / "one_byte.npy"), "--out", str(tmp_path / "out")), "one_byte.npy")


def test_sample_artifact_with_a_broken_model(tiny_root, tmp_path):
    import shutil

    artifact = shutil.copytree(tiny_root / "ddpm" / "inference" / "step_2", tmp_path / "step_2")
    (artifact / "model.keras").write_bytes(b"not a keras archive")
    assert_user_error(run("sample", "--checkpoint", str(artifact), "--out", str(tmp_path / "x.npy")), "model.keras")


def test_out_must_be_a_folder(tmp_path, pop909_dir):
    """`--out` names a folder: a file's name or an existing file is refused, a dot inside a folder name is not."""
    from symdiff_tf.cli.commands.generating import output_folder

    assert output_folder(tmp_path / "repeat_s0.25") == tmp_path / "repeat_s0.25"
    (tmp_path / "taken").write_text("x")
    for out in ("song.mid", "melody.MIDI", "grid.png", str(tmp_path / "taken")):
        with pytest.raises(ValueError, match=r"--out .*: expected a folder for the MIDI and PNG files"):
            output_folder(out)
    song = sorted(pop909_dir.glob("*.mid"))[0]
    assert_user_error(run("infill", str(song), "--bars", "17-32", "--out", "new.mid"), "--out new.mid", "folder")
