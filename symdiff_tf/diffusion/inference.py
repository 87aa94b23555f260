"""Opening a trained diffusion run for generation (`symdiff sample`, `infill`, `evaluate`, `export`): the network
from a run directory (`symdiff_tf.models_common.loading`, no training code), its `LatentSampler`, the latent
scaling and the settings it was trained with. The one way to open a run."""
from __future__ import annotations

import dataclasses
import pathlib

from symdiff_tf.diffusion.config import DDPMConfig
from symdiff_tf.diffusion.model import TransformerDDPM
from symdiff_tf.diffusion.reverse import LatentSampler
from symdiff_tf.diffusion.schedule import LinearSchedule
from symdiff_tf.models_common.loading import NetworkSpec, load_network

DDPM_NETWORK = NetworkSpec(section="ddpm", config_class=DDPMConfig, model_class=TransformerDDPM, model_name="ddpm")


@dataclasses.dataclass
class DiffusionModel:
    """A trained diffusion model ready to generate. source: what was opened; config: its `DDPMConfig`; sampler: its
    `LatentSampler` (EMA weights when the run kept them); scaler: its `LatentScaler`; latents: its
    `LatentDataConfig`; training_steps: steps of the weights (None when unknown); vae_content_hash: the MusicVAE
    whose latents it learned (`musicvae.identity`), None when not recorded; rests_encoded: whether its training
    data held rest chunks as the VAE's encodings rather than as zero latents; config_file: the config file it was
    trained with (None for a bundle); recorded: the other entries of that file (data, val_data, …)."""

    source: pathlib.Path
    config: DDPMConfig
    sampler: LatentSampler
    scaler: object
    latents: object
    training_steps: int | None
    vae_content_hash: str | None
    rests_encoded: bool
    config_file: pathlib.Path | None = None
    recorded: dict = dataclasses.field(default_factory=dict)

    @property
    def network(self):
        return self.sampler.model


def make_sampler(model, config: DDPMConfig, jit_compile: bool = False) -> LatentSampler:
    """The `LatentSampler` of a network and its `ddpm:` config."""
    return LatentSampler(model, LinearSchedule.from_config(config.schedule), config.sampling, jit_compile)


def open_run(path, config_file=None, overrides=(), precision: str = "none", jit_compile: bool = False,
             scaler_file=None, with_scaler: bool = True) -> DiffusionModel:
    """Opens the diffusion run at `path`: a run directory, its `checkpoints/` folder, a checkpoint prefix or an
    artifact folder `RUN/inference/step_N`. `config_file`: a config with a `ddpm:` section (None: the run's own);
    `precision`: "none", "bfloat16" or "float16" (the network only; the scheduler arithmetic stays float32);
    `scaler_file`: a latent_scaling.json to use instead of the run's (the artifact's, else the run directory's);
    `with_scaler=False`: none (scaler None), for latents in and out. ValueError naming the file when a part is
    missing or does not fit."""
    from symdiff_tf.config import load_section, load_yaml
    from symdiff_tf.data.latent_config import LatentDataConfig
    from symdiff_tf.data.scaler import SCALER_FILENAME, LatentScaler
    from symdiff_tf.models_common import run_dir

    found = run_dir.locate(path)
    run_config = found.config_file
    if run_config is None:
        raise ValueError(f"{path}: no {run_dir.CONFIG_FILENAME}; expected the run directory of `symdiff train`")
    if scaler_file is None and with_scaler:
        scaler_file = run_scaler_file(path)
        if scaler_file is None:
            raise ValueError(f"{found.root / SCALER_FILENAME}: missing; the run's latent scaling is needed to decode "
                             "its latents (`symdiff train --data tfds:...` writes it; or pass a scaler file)")
    trained = load_network(DDPM_NETWORK, path, config_file, overrides, precision)
    sampler = make_sampler(trained.model, trained.config, jit_compile)
    scaler = checked_scaler(LatentScaler.load(scaler_file), sampler, scaler_file) if with_scaler else None
    info = trained.info
    steps = info.get("step", run_dir.checkpoint_step(found.checkpoint) if found.checkpoint else None)
    recorded = {key: value for key, value in load_yaml(run_config).items() if not isinstance(value, dict)}
    return DiffusionModel(pathlib.Path(path), trained.config, sampler, scaler,
                          load_section(LatentDataConfig, run_config, "latents", required=False), steps,
                          info.get("vae_content_hash"), rests_encoded(recorded.get("data")), run_config, recorded)


def run_scaler_file(path) -> pathlib.Path | None:
    """The latent_scaling.json of the run at `path`: its artifact's, else its run directory's; None if neither."""
    from symdiff_tf.data.scaler import SCALER_FILENAME
    from symdiff_tf.models_common import run_dir

    found = run_dir.locate(path)
    candidates = [folder / SCALER_FILENAME for folder in (found.artifact, found.root) if folder is not None]
    return next((p for p in candidates if p.is_file()), None)


def checked_scaler(scaler, sampler: LatentSampler, source):
    """`scaler` when it keeps as many dims as the network takes, else ValueError naming `source`."""
    if sampler.window_shape[1] != len(scaler.kept_dims):
        raise ValueError(f"{source}: keeps {len(scaler.kept_dims)} latent dims, the network takes "
                         f"{sampler.window_shape[1]}")
    return scaler


def rests_encoded(data_spec) -> bool:
    """Whether the data `data_spec` (a run's `--data`) holds rest chunks as the VAE's encodings: a `lakh_midi`
    config built with `encode_rests`, whose name the builder ends in `-rests_encoded`. False for every other
    dataset, whose rest chunks are zero latents (the original's rule)."""
    from symdiff_tf.data.tfds_spec import TFDS_PREFIX, is_tfds_spec

    if not data_spec or not is_tfds_spec(data_spec):
        return False
    config = str(data_spec)[len(TFDS_PREFIX):].partition("@")[0].rpartition("/")[2]
    return "rests_encoded" in config.split("-")
