"""Builds the shipped default model from POP909, stage by stage: `make default-model` runs this.

Every stage is a `symdiff` (or `tfds`) command writing under `runs/default/` (git-ignored). A stage whose output
is complete is skipped; a stage that was killed resumes from its last checkpoint when the recipe is run again
(each training command resumes by itself). Wall times of the stages are recorded in `runs/default/stages.json`.

Stages (POP909 `MELODY` tracks, beats quantisation, the project's split: train for training, validation for model
choices, test only for the final tables):
1. melodies  chunk archives of the train / validation / test songs (`symdiff melodies --split pop909`);
2. vae       the MusicVAE of `configs/default.yaml` on the train chunks, rests included (`symdiff train-vae`),
             `VAE_STEPS` steps, a checkpoint every 250: a killed run resumes from its last checkpoint. To stop it
             early and go on with the other stages, run this stage with `--vae-steps` at or below the last
             checkpoint's step: it writes `runs/default/vae/model.keras` from that checkpoint without training;
3. latents   the `lakh_midi` latent dataset of every song, rests encoded, the train melodies also transposed over
             the MusicVAE's `transpose_range` (`tfds build`);
4. ddpm      the diffusion model (`symdiff train --model ddpm`);
5. mdn       the TransformerMDN baseline (`symdiff train --model mdn`);
6. export    the run's SavedModel bundle, the candidate, into `runs/default/bundle/1/` (`symdiff export`, with
             the sampling defaults of `configs/default.yaml`). It ships, copied to the next version folder of
             `saved_models/default/`, only when it beats the shipped version on the validation split
             (`docs/results.md`); the recipe never writes into `saved_models/`.

A stage built on another VAE than today's `runs/default/vae/model.keras` is never reused silently: the recipe
stops and names it (the latent dataset's name follows the VAE's content hash, so it is rebuilt by itself). A bundle
candidate exported from other weights stops the recipe too: move it aside.

Usage: `python scripts/default_model.py [--only STAGE ...] [--vae-steps N]`.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RUN = ROOT / "runs" / "default"
CONFIG = ROOT / "configs" / "default.yaml"
BIN = pathlib.Path(sys.executable).parent
POP909 = pathlib.Path(os.environ.get("SYMDIFF_SHARED_DATA", ROOT.parent / "shared" / "data")) / "pop909" / "midi"
CANDIDATE = RUN / "bundle" / "1"  # the recipe's bundle; shipping it is a copy into saved_models/default/<N>
STAGES = ("melodies", "vae", "latents", "ddpm", "mdn", "export")
VAE_STEPS = 17_500  # the candidate's MusicVAE: 98.3 % of validation tokens, note F1 0.953 (docs/musicvae.md)


def transpose_range() -> tuple[int, int]:
    """The MusicVAE's `transpose_range` in `configs/default.yaml` (semitones): the latent dataset's
    `train_transposed` split holds the train melodies transposed over the same shifts (`latents.transposed`)."""
    import yaml

    low, high = yaml.safe_load(CONFIG.read_text())["musicvae"]["transpose_range"]
    return low, high


def latent_config() -> dict:
    """The `lakh_midi` config of the latent dataset (named after the VAE's content hash by the builder)."""
    return {"name": "auto", "vae": str(RUN / "vae" / "model.keras"), "quantize": "beats", "track": "MELODY",
            "split": "pop909", "encode_rests": True, "transpose": list(transpose_range())}


def latent_spec() -> str:
    """`tfds:lakh_midi/CONFIG@DATA_DIR` of the built latent dataset."""
    from tfds_lakh.lakh_midi_dataset_builder import make_config

    name = make_config(vae=RUN / "vae" / "model.keras", quantize="beats", track="MELODY", split="pop909",
                       encode_rests=True, transpose=transpose_range()).name
    return f"tfds:lakh_midi/{name}@{RUN / 'tfds'}"


def commands(stage: str, vae_steps: int) -> list[list[str]]:
    """The command lines of one stage."""
    symdiff = str(BIN / "symdiff")
    melodies = RUN / "melodies"
    if stage == "melodies":
        return [[symdiff, "melodies", str(POP909), "--track", "MELODY", "--quantize", "beats", "--split", "pop909",
                 "--no-render", "--out", str(melodies)]]
    if stage == "vae":
        return [[symdiff, "train-vae", "--config", str(CONFIG), "--data", str(melodies / "chunks-train.npz"),
                 "--eval-data", str(melodies / "chunks-validation.npz"), "--keep-rests",
                 "--workdir", str(RUN / "vae"), "--steps", str(vae_steps), "--checkpoint-every", "250",
                 "--log-every", "50", "--eval-every", "500"]]
    if stage == "latents":
        return [[str(BIN / "tfds"), "build", "lakh_midi", "--imports", "tfds_lakh",
                 "--config", json.dumps(latent_config()), "--manual_dir", str(POP909),
                 "--data_dir", str(RUN / "tfds")]]
    if stage in ("ddpm", "mdn"):
        return [[symdiff, "train", "--config", str(CONFIG), "--model", stage, "--data", latent_spec(),
                 "--vae", str(RUN / "vae" / "model.keras"), "--workdir", str(RUN / stage)]]
    if stage == "export":
        return [[symdiff, "export", "--vae", str(RUN / "vae" / "model.keras"), "--diffusion", str(RUN / "ddpm"),
                 "--config", str(CONFIG), "--out", str(CANDIDATE)]]
    raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")


def last_logged_step(workdir: pathlib.Path) -> int:
    """The step of the last line of a training run's `train_log.jsonl` (0 without one)."""
    log = workdir / "train_log.jsonl"
    lines = log.read_text().splitlines() if log.is_file() else []
    return json.loads(lines[-1])["step"] if lines else 0


def current_vae_hash() -> str:
    """The content hash of `runs/default/vae/model.keras` (the name the latent dataset carries)."""
    from symdiff_tf import musicvae
    from symdiff_tf.musicvae.identity import vae_content_hash

    return vae_content_hash(musicvae.load(RUN / "vae" / "model.keras"))


def check_same_vae(stage: str) -> None:
    """Stops the recipe when the stage's run (or the bundle) was made with another VAE than today's."""
    if stage in ("ddpm", "mdn"):
        records = sorted((RUN / stage / "inference").glob("step_*/inference.json"))
        recorded = json.loads(records[-1].read_text()).get("vae_content_hash") if records else None
        where = RUN / stage
    else:
        provenance = CANDIDATE / "assets" / "provenance.json"
        recorded = json.loads(provenance.read_text()).get("vae_content_hash") if provenance.is_file() else None
        where = provenance.parents[1]
    if recorded is not None and recorded != current_vae_hash():
        raise SystemExit(f"[{stage}] {where} was made with MusicVAE {recorded}, {RUN / 'vae' / 'model.keras'} is "
                         f"{current_vae_hash()}: move {where} aside"
                         + " and run the recipe again")


def is_done(stage: str, vae_steps: int) -> bool:
    """True when the stage's output is complete (then it is skipped)."""
    if stage == "melodies":
        return all((RUN / "melodies" / f"chunks-{s}.npz").is_file() for s in ("train", "validation", "test"))
    if stage == "vae":
        return (RUN / "vae" / "model.keras").is_file() and last_logged_step(RUN / "vae") >= vae_steps
    if stage == "latents":
        name, data_dir = latent_spec()[len("tfds:lakh_midi/"):].split("@")
        return any((pathlib.Path(data_dir) / "lakh_midi" / name).glob("*/dataset_info.json"))
    if stage in ("ddpm", "mdn"):
        import yaml

        max_steps = yaml.safe_load(CONFIG.read_text())[stage]["train"]["max_steps"]
        return (RUN / stage / "inference").is_dir() and last_logged_step(RUN / stage) >= max_steps
    if stage == "export":
        bundle = CANDIDATE
        if not (bundle / "saved_model.pb").is_file():
            return False
        exported = json.loads((bundle / "assets" / "provenance.json").read_text())["training_steps"]
        trained = last_logged_step(RUN / "ddpm")
        if exported != trained:
            raise SystemExit(f"[export] {bundle} holds the diffusion model of step {exported}, {RUN / 'ddpm'} is "
                             f"at step {trained}: move {bundle} aside to export it")
        return True
    raise ValueError(stage)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=STAGES, default=STAGES, help="run only these stages")
    parser.add_argument("--vae-steps", type=int, default=VAE_STEPS, help="MusicVAE optimizer steps")
    args = parser.parse_args()
    RUN.mkdir(parents=True, exist_ok=True)
    times_path = RUN / "stages.json"
    for stage in STAGES:
        if stage not in args.only:
            continue
        if stage in ("ddpm", "mdn", "export"):
            check_same_vae(stage)
        if is_done(stage, args.vae_steps):
            print(f"[{stage}] done already, skipped")
            continue
        for command in commands(stage, args.vae_steps):
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
    bundle = f" and the candidate bundle {CANDIDATE}/" if "export" in done else ""
    print(f"stages {', '.join(done)} complete: wrote {RUN}{bundle} (stage wall times in {times_path})")
    print(f"next: symdiff evaluate --model {CANDIDATE} --split validation ... beside the shipped model "
          "(docs/results.md); symdiff sample --model " + str(CANDIDATE) if "export" in done else
          "next: python scripts/default_model.py (the remaining stages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
