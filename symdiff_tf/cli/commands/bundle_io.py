"""Music in and out of the command line for `symdiff sample` and `symdiff infill`: the SavedModel bundle (the
shipped default model unless `--model` names another) or a run directory with `--vae`, and MIDI + PNG files out.

Each melody gets its own seed (`--seed S` gives seeds S, S+1, …), so melody i is the same whatever `--num` is.
"""
from __future__ import annotations

import pathlib

from symdiff_tf.paths import REPO_ROOT

DEFAULT_MODEL_ROOT = REPO_ROOT / "saved_models" / "default"


def add_music_arguments(parser, with_num: bool):
    """Options of the music path shared by `sample` and `infill`."""
    parser.add_argument("--model", default=None, metavar="DIR",
                        help="SavedModel bundle of `symdiff export` (a version folder, or its parent: the highest "
                             f"version); default: the shipped model {DEFAULT_MODEL_ROOT.relative_to(REPO_ROOT)}")
    parser.add_argument("--vae", default=None, metavar="FILE",
                        help="with --checkpoint RUN: decode the run's samples with this MusicVAE into MIDI and PNG")
    if with_num:
        parser.add_argument("--num", type=int, default=8, help="number of melodies (default 8)")
    parser.add_argument("--temperature", type=float, default=0.0,
                        help="MusicVAE decoder temperature (default 0: greedy)")


def model_dir(path) -> pathlib.Path:
    """The bundle folder of `--model` (None: the shipped default): a folder with `saved_model.pb`, or a parent of
    numbered versions (the highest is taken, as TF Serving does)."""
    folder = pathlib.Path(path) if path is not None else DEFAULT_MODEL_ROOT
    if (folder / "saved_model.pb").is_file():
        return folder
    versions = sorted((p for p in folder.glob("*") if p.name.isdigit() and (p / "saved_model.pb").is_file()),
                      key=lambda p: int(p.name)) if folder.is_dir() else []
    if versions:
        return versions[-1]
    hint = (" (the shipped default model: build it with `make default-model`)" if path is None else
            "; expected a SavedModel from `symdiff export` (a folder with saved_model.pb, or numbered versions)")
    raise ValueError(f"--model {folder}: no SavedModel bundle there{hint}")


def open_bundle(path):
    """(the loaded bundle, its folder); ValueError naming the folder when it lacks the bundle's signatures."""
    import tensorflow as tf

    from symdiff_tf.export.bundle import SIGNATURES

    folder = model_dir(path)
    bundle = tf.saved_model.load(str(folder))
    missing = sorted(set(SIGNATURES) - set(bundle.signatures))
    if missing:
        raise ValueError(f"--model {folder}: a SavedModel without the signatures {missing} of a symdiff bundle")
    return bundle, folder


def seeds_of(seed: int, count: int):
    """int32 `[count]`: seed, seed + 1, …"""
    import numpy as np

    if count < 1:
        raise ValueError(f"--num {count}: expected at least 1 melody")
    return np.arange(seed, seed + count, dtype=np.int32)


def bundle_ddpm_config(folder: pathlib.Path) -> dict:
    """The `ddpm:` section of the config in the bundle's assets."""
    import yaml

    return yaml.safe_load((folder / "assets" / "config.yaml").read_text(encoding="utf-8"))["ddpm"]


def bundle_steps(steps, ddpm_config: dict) -> int:
    """`--steps`, or the bundle's default: the DDIM steps of its config."""
    return int(ddpm_config["sampling"]["ddim_steps"]) if steps is None else steps


def melodies_from_outputs(outputs, real_bars=None):
    """`generation.Melodies` from a bundle signature's outputs (numpy)."""
    from symdiff_tf.generation.generator import Melodies

    values = {key: value.numpy() for key, value in outputs.items()}
    return Melodies.from_notes(values["tokens"], values["pitches"], values["starts"], values["ends"],
                               values["num_notes"], real_bars)


def write_music(melodies, out, prefix: str, first_seed: int, what: str, next_hint: str) -> None:
    """Writes PREFIX_SEED.mid / .png per melody and one grid PNG into `out`, then says what it wrote and what next."""
    out = pathlib.Path(out)
    if out.suffix:
        raise ValueError(f"--out {out}: expected a folder for the MIDI and PNG files")
    names = [f"{prefix}_{first_seed + i:04d}" for i in range(len(melodies))]
    written = melodies.write(out, names, grid=f"{prefix}_grid.png")
    print(f"wrote {len(names)} {what} to {out}/: {names[0]}.mid/.png … {names[-1]}.mid/.png and "
          f"{prefix}_grid.png ({len(written)} files)")
    print(f"next: {next_hint}")
