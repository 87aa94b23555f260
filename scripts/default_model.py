"""Builds the default model from POP909, stage by stage: `make default-model` runs this, `make candidate-model`
runs it with `--recipe candidate`.

Two recipes, each a config and a run folder under `runs/` (git-ignored):
- `default`   `configs/default.yaml` into `runs/default/`: what ships in `saved_models/default/` (version 4: version
              2's MusicVAE and diffusion model with version 4's infilling defaults); the MusicVAE trains 7,000 steps;
- `candidate` `configs/candidate.yaml` into `runs/candidate/`: the 98.3 % MusicVAE (17,500 steps) with the diffusion
              model on transposed windows, which did not beat what ships on the validation split (docs/results.md).

Every stage is a `symdiff` (or `tfds`) command writing under the run folder. A stage whose output is complete is
skipped; a stage that was killed resumes from its last checkpoint when the recipe is run again (each training
command resumes by itself). Wall times of the stages are recorded in `RUN/stages.json`.

Stages (POP909 `MELODY` tracks, beats quantisation, the project's split: train for training, validation for model
choices, test only for the final tables):
1. melodies  chunk archives of the train / validation / test songs (`symdiff melodies --split pop909`);
2. vae       the MusicVAE of the recipe's config on the train chunks, rests included (`symdiff train-vae`), the
             recipe's VAE steps, a checkpoint every 250: a killed run resumes from its last checkpoint. To stop it
             early and go on with the other stages, run this stage with `--vae-steps` at or below the last
             checkpoint's step: it writes `RUN/vae/model.keras` from that checkpoint without training;
3. latents   the `lakh_midi` latent dataset of every song, rests encoded; with `latents.transposed` the train
             melodies also transposed over the MusicVAE's `transpose_range` (`tfds build`);
4. ddpm      the diffusion model (`symdiff train --model ddpm`);
5. mdn       the TransformerMDN baseline (`symdiff train --model mdn`);
6. export    the run's SavedModel bundle into `RUN/bundle/1/` (`symdiff export`, with the sampling defaults of the
             config). A bundle ships, copied to the next version folder of `saved_models/default/`, only when it
             beats the shipped version on the validation split (`docs/results.md`); the recipe never writes into
             `saved_models/`.

A run folder made by another recipe (a MusicVAE config of another name), or a stage built on another VAE than
today's `RUN/vae/model.keras`, is never reused silently: the recipe stops and names it (the latent dataset's name
follows the VAE's content hash, so it is rebuilt by itself). A bundle exported from other weights stops the recipe
too: move it aside.

Usage: `python scripts/default_model.py [--recipe default|candidate] [--only STAGE ...] [--vae-steps N]`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
POP909 = pathlib.Path(os.environ.get("SYMDIFF_SHARED_DATA", ROOT.parent / "shared" / "data")) / "pop909" / "midi"
STAGES = ("melodies", "vae", "latents", "ddpm", "mdn", "export")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One way to build the default model: its config, its run folder and its MusicVAE's optimizer steps."""
    config: pathlib.Path
    run: pathlib.Path
    vae_steps: int

    @property
    def bundle(self) -> pathlib.Path:
        """The recipe's exported bundle; shipping it is a copy into saved_models/default/<N>."""
        return self.run / "bundle" / "1"

    @property
    def vae_file(self) -> pathlib.Path:
        return self.run / "vae" / "model.keras"

    def section(self, name: str) -> dict:
        """One section of the recipe's config (`musicvae`, `latents`, `ddpm`, `mdn`)."""
        import yaml

        return yaml.safe_load(self.config.read_text())[name]


RECIPES = {
    # version 2's networks (version 4 ships them): the MusicVAE's note F1 0.67 at 7,000 steps (docs/results/version2.md)
    "default": Recipe(ROOT / "configs" / "default.yaml", ROOT / "runs" / "default", vae_steps=7_000),
    # 98.3 % of validation tokens, note F1 0.953 at 17,500 steps (docs/musicvae.md)
    "candidate": Recipe(ROOT / "configs" / "candidate.yaml", ROOT / "runs" / "candidate", vae_steps=17_500),
}


def latent_options(recipe: Recipe) -> dict:
    """The `lakh_midi` config options of the recipe's latent dataset (named after the VAE's content hash by the
    builder); `transpose` only when the diffusion model trains on transposed windows (`latents.transposed`): the
    train melodies over the MusicVAE's `transpose_range`, in split `train_transposed`."""
    options = {"vae": str(recipe.vae_file), "quantize": "beats", "track": "MELODY", "split": "pop909",
               "encode_rests": True}
    if recipe.section("latents").get("transposed", False):
        options["transpose"] = list(recipe.section("musicvae")["transpose_range"])
    return options


def latent_spec(recipe: Recipe) -> str:
    """`tfds:lakh_midi/CONFIG@DATA_DIR` of the built latent dataset."""
    from tfds_lakh.lakh_midi_dataset_builder import make_config

    return f"tfds:lakh_midi/{make_config(**latent_options(recipe)).name}@{recipe.run / 'tfds'}"


def commands(recipe: Recipe, stage: str, vae_steps: int) -> list[list[str]]:
    """The command lines of one stage."""
    symdiff, run, config = str(BIN / "symdiff"), recipe.run, str(recipe.config)
    melodies = run / "melodies"
    if stage == "melodies":
        return [[symdiff, "melodies", str(POP909), "--track", "MELODY", "--quantize", "beats", "--split", "pop909",
                 "--no-render", "--out", str(melodies)]]
    if stage == "vae":
        return [[symdiff, "train-vae", "--config", config, "--data", str(melodies / "chunks-train.npz"),
                 "--eval-data", str(melodies / "chunks-validation.npz"), "--keep-rests",
                 "--workdir", str(run / "vae"), "--steps", str(vae_steps), "--checkpoint-every", "250",
                 "--log-every", "50", "--eval-every", "500"]]
    if stage == "latents":
        return [[str(BIN / "tfds"), "build", "lakh_midi", "--imports", "tfds_lakh",
                 "--config", json.dumps({"name": "auto", **latent_options(recipe)}), "--manual_dir", str(POP909),
                 "--data_dir", str(run / "tfds")]]
    if stage in ("ddpm", "mdn"):
        return [[symdiff, "train", "--config", config, "--model", stage, "--data", latent_spec(recipe),
                 "--vae", str(recipe.vae_file), "--workdir", str(run / stage)]]
    if stage == "export":
        return [[symdiff, "export", "--vae", str(recipe.vae_file), "--diffusion", str(run / "ddpm"),
                 "--config", config, "--out", str(recipe.bundle)]]
    raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")


def last_logged_step(workdir: pathlib.Path) -> int:
    """The step of the last line of a training run's `train_log.jsonl` (0 without one)."""
    log = workdir / "train_log.jsonl"
    lines = log.read_text().splitlines() if log.is_file() else []
    return json.loads(lines[-1])["step"] if lines else 0


def current_vae_hash(recipe: Recipe) -> str:
    """The content hash of the run's `vae/model.keras` (the name the latent dataset carries)."""
    from symdiff_tf import musicvae
    from symdiff_tf.musicvae.identity import vae_content_hash

    return vae_content_hash(musicvae.load(recipe.vae_file))


def check_same_recipe(recipe: Recipe) -> None:
    """Stops the recipe when the run's MusicVAE was built from another MusicVAE config than the recipe's (a run
    folder of the other recipe, or of an older config): the name `train-vae` stores in the model."""
    if not recipe.vae_file.is_file():
        return
    import zipfile

    with zipfile.ZipFile(recipe.vae_file) as archive:
        built_from = json.loads(archive.read("config.json"))["config"].get("config_name")
    wanted = recipe.section("musicvae")["name"]
    if built_from != wanted:
        raise SystemExit(f"[vae] {recipe.vae_file} was trained from MusicVAE config {built_from!r}, "
                         f"{recipe.config} asks for {wanted!r}: move {recipe.run} aside and run the recipe again")


def check_same_vae(recipe: Recipe, stage: str) -> None:
    """Stops the recipe when the stage's run (or the bundle) was made with another VAE than today's."""
    if stage in ("ddpm", "mdn"):
        records = sorted((recipe.run / stage / "inference").glob("step_*/inference.json"))
        recorded = json.loads(records[-1].read_text()).get("vae_content_hash") if records else None
        where = recipe.run / stage
    else:
        provenance = recipe.bundle / "assets" / "provenance.json"
        recorded = json.loads(provenance.read_text()).get("vae_content_hash") if provenance.is_file() else None
        where = provenance.parents[1]
    if recorded is not None and recorded != current_vae_hash(recipe):
        raise SystemExit(f"[{stage}] {where} was made with MusicVAE {recorded}, {recipe.vae_file} is "
                         f"{current_vae_hash(recipe)}: move {where} aside and run the recipe again")


def is_done(recipe: Recipe, stage: str, vae_steps: int) -> bool:
    """True when the stage's output is complete (then it is skipped)."""
    run = recipe.run
    if stage == "melodies":
        return all((run / "melodies" / f"chunks-{s}.npz").is_file() for s in ("train", "validation", "test"))
    if stage == "vae":
        return recipe.vae_file.is_file() and last_logged_step(run / "vae") >= vae_steps
    if stage == "latents":
        name, data_dir = latent_spec(recipe)[len("tfds:lakh_midi/"):].split("@")
        return any((pathlib.Path(data_dir) / "lakh_midi" / name).glob("*/dataset_info.json"))
    if stage in ("ddpm", "mdn"):
        max_steps = recipe.section(stage)["train"]["max_steps"]
        return (run / stage / "inference").is_dir() and last_logged_step(run / stage) >= max_steps
    if stage == "export":
        if not (recipe.bundle / "saved_model.pb").is_file():
            return False
        exported = json.loads((recipe.bundle / "assets" / "provenance.json").read_text())["training_steps"]
        trained = last_logged_step(run / "ddpm")
        if exported != trained:
            raise SystemExit(f"[export] {recipe.bundle} holds the diffusion model of step {exported}, {run / 'ddpm'} "
                             f"is at step {trained}: move {recipe.bundle} aside to export it")
        return True
    raise ValueError(stage)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="default",
                        help="default: what ships (configs/default.yaml); candidate: configs/candidate.yaml")
    parser.add_argument("--only", nargs="+", choices=STAGES, default=STAGES, help="run only these stages")
    parser.add_argument("--vae-steps", type=int, help="MusicVAE optimizer steps (default: the recipe's)")
    args = parser.parse_args()
    from symdiff_tf.cli.terminal import quiet_stderr

    quiet_stderr()  # the VAE checks import TensorFlow here; the stages' commands filter their own noise
    recipe = RECIPES[args.recipe]
    vae_steps = recipe.vae_steps if args.vae_steps is None else args.vae_steps
    recipe.run.mkdir(parents=True, exist_ok=True)
    check_same_recipe(recipe)
    times_path = recipe.run / "stages.json"
    for stage in STAGES:
        if stage not in args.only:
            continue
        if stage in ("ddpm", "mdn", "export"):
            check_same_vae(recipe, stage)
        if is_done(recipe, stage, vae_steps):
            print(f"[{stage}] done already, skipped")
            continue
        for command in commands(recipe, stage, vae_steps):
            print(f"[{stage}] {' '.join(command)}", flush=True)
            began = time.time()
            result = subprocess.run(command, cwd=ROOT)
            # read again: two recipes may run side by side (`--only ddpm` beside `--only mdn`)
            times = json.loads(times_path.read_text()) if times_path.is_file() else {}
            times[stage] = times.get(stage, 0.0) + time.time() - began  # summed over resumed runs
            times_path.write_text(json.dumps(times, indent=2))
            if result.returncode:
                print(f"[{stage}] failed with exit code {result.returncode}; run the recipe again to resume")
                return result.returncode
    done = [stage for stage in STAGES if stage in args.only]
    bundle = f" and the bundle {recipe.bundle}/" if "export" in done else ""
    print(f"stages {', '.join(done)} complete: wrote {recipe.run}{bundle} (stage wall times in {times_path})")
    print(f"next: symdiff evaluate --model {recipe.bundle} --split validation ... beside the shipped model "
          f"(docs/results.md); symdiff sample --model {recipe.bundle}" if "export" in done else
          f"next: python scripts/default_model.py --recipe {args.recipe} (the remaining stages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
