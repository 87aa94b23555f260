"""A trained diffusion run opened for generation: the network with its weights, the schedule's sampler, the latent
scaling and the settings it was trained with, found the way `symdiff_tf.models_common.run_dir` lays a run out
(a run directory, a checkpoint prefix, or an inference artifact `RUN/inference/step_N`)."""
from __future__ import annotations

import dataclasses
import pathlib

from symdiff_tf.config import load_section, load_yaml


@dataclasses.dataclass
class TrainedRun:
    """source: what was opened; config_file: the resolved config it was trained with; config: its `DDPMConfig`;
    sampler: a `DiffusionSampler` over the trained network (EMA weights when the run kept them); scaler: its
    `LatentScaler`; latents: its `LatentDataConfig`; training_steps: steps of the weights (None when unknown);
    vae_content_hash: the MusicVAE the run learned from (`musicvae.identity`), None when not recorded;
    rests_encoded: whether its training data held rest chunks as the VAE's encodings (`rests_encoded`) rather
    than as zero latents; recorded: the other entries of the config file (data, val_data, strategy, …)."""

    source: pathlib.Path
    config_file: pathlib.Path
    config: object
    sampler: object
    scaler: object
    latents: object
    training_steps: int | None
    vae_content_hash: str | None
    rests_encoded: bool
    recorded: dict


def load_run(path) -> TrainedRun:
    """Opens the diffusion run at `path`; ValueError naming the file when a part is missing."""
    from symdiff_tf.data.latent_config import LatentDataConfig
    from symdiff_tf.data.scaler import SCALER_FILENAME, LatentScaler
    from symdiff_tf.diffusion.inference import load_sampler
    from symdiff_tf.models_common import run_dir

    found = run_dir.locate(path)
    if found.config_file is None:
        raise ValueError(f"{path}: no {run_dir.CONFIG_FILENAME}; expected the run directory of `symdiff train`")
    scaler_dir = next((folder for folder in (found.artifact, found.root)
                       if folder is not None and (folder / SCALER_FILENAME).is_file()), None)
    if scaler_dir is None:
        raise ValueError(f"{found.root / SCALER_FILENAME}: missing; the run's latent scaling is needed to decode its "
                         "latents (`symdiff train --data tfds:...` writes it)")
    scaler = LatentScaler.load(scaler_dir)
    trained, sampler = load_sampler(None, path)
    if sampler.latent_dim != len(scaler.kept_dims):
        raise ValueError(f"{path}: the network takes {sampler.latent_dim} latent dims, the latent scaling keeps "
                         f"{len(scaler.kept_dims)}")
    info = trained.info
    steps = info.get("step", run_dir.checkpoint_step(found.checkpoint) if found.checkpoint else None)
    recorded = {key: value for key, value in load_yaml(found.config_file).items()
                if not isinstance(value, dict)}
    return TrainedRun(pathlib.Path(path), found.config_file, trained.config, sampler, scaler,
                      load_section(LatentDataConfig, found.config_file, "latents", required=False), steps,
                      info.get("vae_content_hash"), rests_encoded(recorded.get("data")), recorded)


def rests_encoded(data_spec) -> bool:
    """Whether the data `data_spec` (a run's `--data`) holds rest chunks as the VAE's encodings: a `lakh_midi`
    config built with `encode_rests`, whose name the builder ends in `-rests_encoded`. False for every other
    dataset, whose rest chunks are zero latents (the original's rule)."""
    from symdiff_tf.data.tfds_spec import TFDS_PREFIX, is_tfds_spec

    if not data_spec or not is_tfds_spec(data_spec):
        return False
    config = str(data_spec)[len(TFDS_PREFIX):].partition("@")[0].rpartition("/")[2]
    return "rests_encoded" in config.split("-")


def check_vae(vae, run: TrainedRun) -> str:
    """The content hash of `vae`; ValueError when the run recorded another VAE or another latent size."""
    from symdiff_tf.musicvae.identity import vae_content_hash

    if vae.z_size != run.scaler.z_size:
        raise ValueError(f"{run.source}: the run's latents are {run.scaler.z_size}-d, the MusicVAE's z_size is "
                         f"{vae.z_size}: use the VAE that encoded its training data")
    found = vae_content_hash(vae)
    if run.vae_content_hash and run.vae_content_hash != found:
        raise ValueError(f"{run.source}: the run learned the latents of MusicVAE {run.vae_content_hash}, this "
                         f"MusicVAE is {found}: use the VAE that encoded its training data")
    return found
