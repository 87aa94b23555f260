"""scripts/default_model.py: `make default-model` rebuilds what ships (its config resolves to the shipped bundle's,
its latent dataset is the one the bundle's diffusion model trained on), `make candidate-model` the 98.3 % VAE's
recipe, and a run folder made by the other recipe stops the script instead of being reused."""
import json

import pytest
import yaml

import default_model as recipe_script
from symdiff_tf.config import load_section, to_dict
from symdiff_tf.data.latent_config import LatentDataConfig
from symdiff_tf.paths import default_model_root
from symdiff_tf.training.registry import load_model_config
from tfds_lakh.lakh_midi_dataset_builder_test import write_tiny_vae

DEFAULT, CANDIDATE = recipe_script.RECIPES["default"], recipe_script.RECIPES["candidate"]


def shipped_bundle():
    return max((p for p in default_model_root().iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def test_the_default_recipe_resolves_to_the_shipped_bundles_config():
    shipped = yaml.safe_load((shipped_bundle() / "assets" / "config.yaml").read_text())
    ddpm = to_dict(load_model_config("ddpm", DEFAULT.config, []))
    ddpm["model"]["latent_dim"] = shipped["ddpm"]["model"]["latent_dim"]  # 0 = from the data, resolved at training
    assert ddpm == shipped["ddpm"]
    assert to_dict(load_section(LatentDataConfig, DEFAULT.config, "latents")) == shipped["latents"]
    provenance = json.loads((shipped_bundle() / "assets" / "provenance.json").read_text())
    assert DEFAULT.section("musicvae")["name"] == provenance["musicvae"]["config_name"]


def tiny_run(folder):
    """A run folder holding a tiny MusicVAE as its `vae/model.keras` (built from MusicVAE config "tiny")."""
    (folder / "vae").mkdir(parents=True)
    write_tiny_vae(folder / "vae" / "model.keras")
    return folder


def test_each_recipe_builds_the_latent_dataset_its_diffusion_model_reads(tmp_path):
    run = tiny_run(tmp_path / "run")
    default = recipe_script.Recipe(DEFAULT.config, run, DEFAULT.vae_steps)
    candidate = recipe_script.Recipe(CANDIDATE.config, run, CANDIDATE.vae_steps)
    shipped_data = json.loads((shipped_bundle() / "assets" / "provenance.json").read_text())["data"]
    shipped_name = shipped_data.split("/", 1)[1].split("@")[0]          # latents_<VAE hash>-<options>
    default_name = recipe_script.latent_spec(default).split("/", 1)[1].split("@")[0]
    assert default_name.split("-", 1)[1] == shipped_name.split("-", 1)[1]  # the same options, another VAE here
    assert recipe_script.latent_spec(candidate).split("@")[0].endswith("-transposed_m6_5")
    build = recipe_script.commands(default, "latents", DEFAULT.vae_steps)[0]
    assert "transpose" not in json.loads(build[build.index("--config") + 1])


def test_a_run_folder_of_another_recipe_stops_the_script(tmp_path):
    run = tiny_run(tmp_path / "run")
    with pytest.raises(SystemExit, match=r"model\.keras was trained from MusicVAE config 'tiny'.*'default-pop909'"):
        recipe_script.check_same_recipe(recipe_script.Recipe(DEFAULT.config, run, DEFAULT.vae_steps))
    config = yaml.safe_load(DEFAULT.config.read_text())
    config["musicvae"]["name"] = "tiny"
    (tmp_path / "tiny_recipe.yaml").write_text(yaml.safe_dump(config))
    recipe_script.check_same_recipe(recipe_script.Recipe(tmp_path / "tiny_recipe.yaml", run, 4))  # its own: goes on
    recipe_script.check_same_recipe(recipe_script.Recipe(DEFAULT.config, tmp_path / "empty", 4))  # nothing yet


def test_the_recipes_train_their_own_vae_steps_into_their_own_folders():
    assert (DEFAULT.vae_steps, CANDIDATE.vae_steps) == (7_000, 17_500)
    assert DEFAULT.run != CANDIDATE.run and DEFAULT.config != CANDIDATE.config
    train_vae = recipe_script.commands(CANDIDATE, "vae", CANDIDATE.vae_steps)[0]
    assert train_vae[train_vae.index("--config") + 1] == str(CANDIDATE.config)
    assert train_vae[train_vae.index("--workdir") + 1] == str(CANDIDATE.run / "vae")
