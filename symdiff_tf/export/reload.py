"""A SavedModel bundle opened back into Keras: the `DiffusionModel` and the `MusicVAE` whose variables the bundle
holds (in model order, `Bundle.diffusion_variables` / `musicvae_variables`), rebuilt from its config and
provenance assets. `symdiff evaluate --model BUNDLE` scores a shipped bundle this way, with the same evaluation
code as a run; the rebuilt MusicVAE is checked against the content hash the bundle recorded, so the weights are
exactly the bundle's."""
from __future__ import annotations

import json
import pathlib

from symdiff_tf.export.bundle import CONFIG_FILENAME, PROVENANCE_FILENAME


def _assign(variables, saved, what: str, folder) -> None:
    """Copies the bundle's `saved` variables into the Keras `variables`, in order, checking shapes."""
    if len(variables) != len(saved):
        raise ValueError(f"{folder}: the bundle holds {len(saved)} {what} variables, the rebuilt model has "
                         f"{len(variables)}; the bundle does not match this version of symdiff")
    for ours, theirs in zip(variables, saved):
        if tuple(ours.shape) != tuple(theirs.shape):
            raise ValueError(f"{folder}: {what} variable {ours.path} is {tuple(ours.shape)} here, "
                             f"{tuple(theirs.shape)} in the bundle")
        ours.assign(theirs.numpy())


def open_bundle_vae(folder, loaded=None):
    """The `MusicVAE` of the bundle in `folder` (a version folder with saved_model.pb), rebuilt from the config its
    provenance records and checked against the content hash recorded there. `loaded`: the bundle when already
    loaded with `tf.saved_model.load`."""
    import tensorflow as tf

    from symdiff_tf.musicvae.identity import vae_content_hash
    from symdiff_tf.musicvae.model import MusicVAE

    folder = pathlib.Path(folder)
    loaded = loaded if loaded is not None else tf.saved_model.load(str(folder))
    record = json.loads((folder / "assets" / PROVENANCE_FILENAME).read_text(encoding="utf-8"))
    vae_config = {key: value for key, value in record["musicvae"].items() if key not in ("trainable",)}
    vae = MusicVAE.from_config(vae_config)
    _assign(vae.variables, loaded.musicvae_variables, "MusicVAE", folder)
    rebuilt = vae_content_hash(vae)
    if rebuilt != record["vae_content_hash"]:
        raise ValueError(f"{folder}: the rebuilt MusicVAE hashes to {rebuilt}, the bundle recorded "
                         f"{record['vae_content_hash']}")
    return vae


def open_bundle_model(folder, loaded=None, precision: str = "none"):
    """(DiffusionModel, MusicVAE) of the bundle in `folder` (a version folder with saved_model.pb). `loaded`: the
    bundle when already loaded with `tf.saved_model.load`. `precision`: the diffusion network's dtype policy."""
    import dataclasses

    import tensorflow as tf

    from symdiff_tf.config import from_dict, load_yaml
    from symdiff_tf.data.latent_config import LatentDataConfig
    from symdiff_tf.data.scaler import LatentScaler
    from symdiff_tf.diffusion.config import DDPMConfig
    from symdiff_tf.diffusion.inference import DDPM_NETWORK, DiffusionModel, make_sampler
    from symdiff_tf.models_common.precision import dtype_policy

    folder = pathlib.Path(folder)
    loaded = loaded if loaded is not None else tf.saved_model.load(str(folder))
    assets = folder / "assets"
    sections = load_yaml(assets / CONFIG_FILENAME)
    record = json.loads((assets / PROVENANCE_FILENAME).read_text(encoding="utf-8"))
    scaler = LatentScaler.load(assets)
    config = from_dict(DDPMConfig, sections["ddpm"])
    if config.model.latent_dim == 0:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model,
                                                                        latent_dim=len(scaler.kept_dims)))
    with dtype_policy(precision):
        network = DDPM_NETWORK.build(config)
    _assign(network.variables, loaded.diffusion_variables, "diffusion", folder)
    vae = open_bundle_vae(folder, loaded)
    latents = from_dict(LatentDataConfig, {**(sections.get("latents") or {}), "fill": record.get("fill", "noise")})
    recorded = {key: value for key, value in sections.items() if not isinstance(value, dict)}
    model = DiffusionModel(folder, config, make_sampler(network, config), scaler, latents,
                           record.get("training_steps"), record["vae_content_hash"],
                           record.get("rest_chunks") == "encoded", None, recorded)
    return model, vae


def with_sampling_of(model, config_file, overrides=()):
    """`model` (a `DiffusionModel` of `open_bundle_model`) with the sampling defaults of `config_file`'s `ddpm:`
    section after `overrides` (`ddpm.sampling.KEY=VALUE` strings); that section's network and schedule must be the
    model's (a bundle's weights are fixed). The model gets no config file, so an export writes the sections in
    effect."""
    import dataclasses

    from symdiff_tf.config import load_section
    from symdiff_tf.diffusion.config import DDPMConfig
    from symdiff_tf.diffusion.inference import make_sampler

    given = load_section(DDPMConfig, config_file, "ddpm", overrides)
    if given.model.latent_dim == 0:  # "as many as the data keeps": the bundle's
        given = dataclasses.replace(given, model=dataclasses.replace(given.model,
                                                                     latent_dim=model.config.model.latent_dim))
    for part in ("model", "schedule"):
        if getattr(given, part) != getattr(model.config, part):
            given_as = f"{config_file} with --set {' '.join(overrides)}" if overrides else str(config_file)
            raise ValueError(f"{given_as}: its ddpm.{part} is not the bundle's ({model.source}); only the sampling "
                             "defaults can change")
    config = dataclasses.replace(model.config, sampling=given.sampling)
    return dataclasses.replace(model, config=config, sampler=make_sampler(model.network, config),
                               config_file=None)
