"""A wheel built from the repository carries the shipped model: `symdiff sample` works from any folder after
`pip install` of it into a fresh virtual environment (dependencies borrowed from .venv, no network)."""
import pathlib
import shutil
import subprocess
import sys
import sysconfig

from symdiff_tf.paths import REPO_ROOT

SOURCES = ("setup.py", "README.md", "symdiff_tf", "tfds_lakh", "saved_models/default")


def test_the_wheel_carries_the_default_model_and_samples_anywhere(tmp_path):
    # a copy of the sources, so that building leaves no build/ or egg-info changes in the checkout
    source = tmp_path / "source"
    for name in SOURCES:
        copy = shutil.copytree if (REPO_ROOT / name).is_dir() else shutil.copy
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        copy(REPO_ROOT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                                 if (REPO_ROOT / name).is_dir() else {}))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", ".", "-w",
                    str(tmp_path / "dist")], cwd=source, check=True)
    [wheel] = (tmp_path / "dist").glob("symdiff_tf-*.whl")
    assert wheel.stat().st_size < 100 * 2**20
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True)
    site = pathlib.Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                       check=True, capture_output=True, text=True).stdout.strip())
    (site / "dotvenv_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # TensorFlow & co.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(python), "-c", "import symdiff_tf.paths as p; print(p.default_model_root())"],
                           cwd=elsewhere, check=True, capture_output=True, text=True).stdout.strip()
    assert pathlib.Path(where) == site / "symdiff_tf" / "default_model"
    result = subprocess.run([str(venv / "bin" / "symdiff"), "sample", "--num", "1", "--seed", "0", "--scheduler",
                             "ddim", "--steps", "5", "--no-progress", "--out", "out"], cwd=elsewhere,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    highest = max(int(p.name) for p in (REPO_ROOT / "saved_models" / "default").glob("*") if p.name.isdigit())
    assert str(site / "symdiff_tf" / "default_model" / str(highest)) in result.stdout
    assert sorted(p.name for p in (elsewhere / "out").iterdir()) == ["sample_0000.mid", "sample_0000.png",
                                                                     "sample_grid.png"]
