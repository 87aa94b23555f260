"""The run directory of `symdiff train`, and the inference artifact that makes it usable without the training code.

    RUN/
      config.yaml              the resolved config: every section the run used, plus data, strategy, replicas
      latent_scaling.json      the latent scaler (`symdiff_tf.data.scaler`); `tfds:` data only
      checkpoints/ckpt-N.*     the full training state (tf.train: model, optimizer with EMA, data position)
      inference/step_N/        one per kept checkpoint, written right after it:
        model.keras            the network, with the EMA weights when `train.ema` (`keras.saving.load_model`)
        config.yaml            the resolved config again
        latent_scaling.json    when the run has one
        inference.json         {"model": "ddpm", "step": N, "ema": bool, "vae_content_hash": "..." or null}
      tensorboard/, train_log.jsonl

`vae_content_hash` names the MusicVAE whose latents the run learned by its weights
(`symdiff_tf.musicvae.identity`), null when the data came without one (synthetic, .npy, .npz). An artifact
folder is written under a temporary name and renamed when complete, so a killed run leaves only complete ones.
Runs written before artifacts existed hold `config.yaml` and `checkpoints/` only; `symdiff_tf.models_common.
loading` reads both kinds.
"""
import dataclasses
import json
import os
import pathlib
import shutil

import yaml

from symdiff_tf.data.scaler import SCALER_FILENAME

CONFIG_FILENAME = "config.yaml"
CHECKPOINTS_DIRNAME = "checkpoints"
INFERENCE_DIRNAME = "inference"
MODEL_FILENAME = "model.keras"
INFO_FILENAME = "inference.json"
ARTIFACT_PREFIX = "step_"


def write_config(directory, resolved_config: dict) -> pathlib.Path:
    """Writes `directory/config.yaml` (the folder is made if needed) and returns its path."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CONFIG_FILENAME
    path.write_text(yaml.safe_dump(resolved_config, sort_keys=False), encoding="utf-8")
    return path


def checkpoint_step(prefix) -> int | None:
    """The step of a checkpoint prefix `.../ckpt-N` (the trainer numbers checkpoints by step), None for a prefix
    named otherwise."""
    number = str(prefix).rsplit("-", 1)[-1]
    return int(number) if number.isdigit() else None


def artifact_dir(run, step: int) -> pathlib.Path:
    return pathlib.Path(run) / INFERENCE_DIRNAME / f"{ARTIFACT_PREFIX}{step}"


def artifact_steps(run) -> list[int]:
    """Steps of the complete artifacts of `run`, ascending."""
    folder = pathlib.Path(run) / INFERENCE_DIRNAME
    if not folder.is_dir():
        return []
    return sorted(int(path.name[len(ARTIFACT_PREFIX):]) for path in folder.iterdir()
                  if path.name.startswith(ARTIFACT_PREFIX) and (path / INFO_FILENAME).is_file())


def write_artifact(run, step: int, network, record: dict) -> pathlib.Path:
    """Writes `RUN/inference/step_N/` from `network` (a Keras model holding the weights to ship) and `record`
    (what `inference.json` says besides the step), with copies of the run's config and latent scaler."""
    run = pathlib.Path(run)
    final = artifact_dir(run, step)
    partial = final.with_name(f".{final.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    network.save(partial / MODEL_FILENAME)
    for name in (CONFIG_FILENAME, SCALER_FILENAME):
        if (run / name).is_file():
            shutil.copy2(run / name, partial / name)
    (partial / INFO_FILENAME).write_text(json.dumps({**record, "step": step}, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(partial, final)
    return final


def prune_artifacts(run, kept_steps) -> None:
    """Removes the artifacts of `run` whose step is not in `kept_steps` (those of the kept checkpoints)."""
    kept = set(kept_steps)
    for step in artifact_steps(run):
        if step not in kept:
            shutil.rmtree(artifact_dir(run, step))


@dataclasses.dataclass
class RunLocation:
    """Where the weights of a run are: `root` (the run or artifact folder given), `checkpoint` (a tf.train prefix,
    or None when only artifacts are there) and `artifact` (the artifact of that checkpoint, None for runs written
    before artifacts existed or a checkpoint whose artifact was not written)."""

    root: pathlib.Path
    checkpoint: str | None
    artifact: pathlib.Path | None

    @property
    def config_file(self) -> pathlib.Path | None:
        """The resolved config the run was trained with (the artifact's copy first), or None."""
        for folder in (self.artifact, self.root):
            if folder is not None and (folder / CONFIG_FILENAME).is_file():
                return folder / CONFIG_FILENAME
        return None

    def info(self) -> dict:
        """The artifact's `inference.json`, or {} without an artifact."""
        if self.artifact is None:
            return {}
        return json.loads((self.artifact / INFO_FILENAME).read_text(encoding="utf-8"))


def _latest_checkpoint(folder: pathlib.Path) -> str | None:
    import tensorflow as tf

    return tf.train.latest_checkpoint(str(folder)) if folder.is_dir() else None


def locate(path) -> RunLocation:
    """Finds the weights `path` names: a run directory or its `checkpoints/` folder (the latest checkpoint), a
    checkpoint prefix `RUN/checkpoints/ckpt-N`, or an artifact folder `RUN/inference/step_N`.

    The artifact of the chosen checkpoint is used when it exists; a run that holds artifacts but no checkpoints
    gives its latest artifact. Raises FileNotFoundError naming `path` when there is neither.
    """
    path = pathlib.Path(path)
    if (path / INFO_FILENAME).is_file():
        return RunLocation(path, None, path)
    if path.is_dir():
        root = path.parent if path.name == CHECKPOINTS_DIRNAME else path
        checkpoint = _latest_checkpoint(root / CHECKPOINTS_DIRNAME) or _latest_checkpoint(path)
    elif pathlib.Path(f"{path}.index").is_file():
        root = path.parent.parent if path.parent.name == CHECKPOINTS_DIRNAME else path.parent
        checkpoint = str(path)
    else:
        raise FileNotFoundError(f"{path}: no such run directory, checkpoint or inference artifact")
    if checkpoint is None:
        steps = artifact_steps(root)
        if not steps:
            raise FileNotFoundError(f"{path}: no checkpoint and no inference artifact found")
        return RunLocation(root, None, artifact_dir(root, steps[-1]))
    step = checkpoint_step(checkpoint)
    artifact = None if step is None else artifact_dir(root, step)
    return RunLocation(root, checkpoint, artifact if artifact and (artifact / INFO_FILENAME).is_file() else None)
