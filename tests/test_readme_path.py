"""The README's path from MIDI to music ("From MIDI to music: training your own"), run exactly as written on four
POP909 songs, with only its first lines (the variables) set for tiny models."""
import os
import pathlib
import re
import subprocess
import sys

import yaml

from symdiff_tf.paths import REPO_ROOT

SONGS = ("001", "002", "005", "010")  # train, train, validation, test


def readme_block() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## From MIDI to music"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    lines = block.splitlines()
    assert lines[0].startswith("MIDI=") and lines[1].startswith("VAE_STEPS=")  # the variables, then the commands
    return lines[2:]


def tiny_config(path: pathlib.Path) -> pathlib.Path:
    config = yaml.safe_load((REPO_ROOT / "configs" / "tiny.yaml").read_text())
    for section in ("ddpm", "mdn"):
        config[section]["model"].update(latent_dim=0, sequence_length=8)
        config[section]["train"].update(max_steps=2, sample_every=0)
    config["latents"] = {"window_chunks": 8, "allow_rests": True, "transposed": True}
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_readme_path_runs_as_written(tmp_path, pop909_dir):
    midi = tmp_path / "midi"
    midi.mkdir()
    for song in SONGS:
        (midi / f"{song}.mid").write_bytes((pop909_dir / f"{song}.mid").read_bytes())
    out = tmp_path / "mine"
    header = [f"MIDI={midi}; TRACK=MELODY; CONFIG={tiny_config(tmp_path / 'tiny.yaml')}; VAE_CONFIG=tiny",
              f"VAE_STEPS=4; OUT={out}", "set -euo pipefail"]
    script = "\n".join(header + readme_block()).replace("--num-samples 64", "--num-samples 8")
    env = dict(os.environ, PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(["bash", "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, env=env,
                            timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert len(list((out / "samples").glob("*.mid"))) == 4
    assert len(list((out / "bundle_samples").glob("*.mid"))) == 4
    assert (out / "eval" / "tables.md").is_file() and (out / "bundle" / "1" / "saved_model.pb").is_file()
    assert "next:" in result.stdout
