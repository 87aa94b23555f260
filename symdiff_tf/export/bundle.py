"""`export_bundle`: one SavedModel that serves the whole generation pipeline, in TF Serving's layout
DIR/NAME/VERSION.

Signatures (docs/serving.md):
- `serving_default`: seeds int32 `[B]` only, with the model's default scheduler, steps and eta, greedy decoding;
- `sample`: seeds, scheduler string `[]` (one of `schedulers.NAMES`), steps int32 `[]`, eta float32 `[]` (DDIM's;
  0 for the others), temperature float32 `[]`;
- `infill`: tokens int32 `[B, 32, 32]`, mask bool `[B, 64]` (true = keep the bar), then as `sample`, then
  resample int32 `[]` (passes per step, 1..`MAX_RESAMPLE`: 1 is the paper's replacement, more is RePaint's
  resampling, ddpm and ddim only), repeat_start float32 `[]` (in (0, 1]: 1 starts the regenerated bars from noise,
  less from the kept bars 16 before them, `symdiff_tf.diffusion.repeat_start`); the kept bars come back token for
  token (pasted inside the graph);
- `encode`: tokens → mu, sigma float32 `[B, 32, z_size]`;
- `decode`: latents float32 `[B, 32, k]` (scaled, as the diffusion model makes them), temperature; the refill
  and Gumbel noise of seed 0, so `decode` of a melody's latents is `sample` with seed 0.
All but `encode` return tokens int32 `[B, 32, 32]`, latents float32 `[B, 32, k]`, the notes pitches, starts, ends
int32 `[B, M]` (16th-note steps, zero past num_notes `[B]`) and midi_bytes string `[B]` (one MIDI file each).

The graph is `symdiff_tf.generation.Pipeline`'s own (same seed, same melody as the library), plus the input
checks (`checks`) and the notes and MIDI files as graph ops. Only stock TensorFlow ops: no py_function, no XLA.
The module holds the network's variables (the EMA weights when the run kept them) and the MusicVAE's, in model
order (`symdiff_tf.export.reload` rebuilds the Keras models from them); the scaler and kept dims are constants;
the run's config and a provenance record are assets.
"""
from __future__ import annotations

import datetime
import json
import pathlib
import shutil
import tempfile

import tensorflow as tf

from symdiff_tf.diffusion import schedulers
from symdiff_tf.export import checks
from symdiff_tf.generation import midi
from symdiff_tf.generation.pipeline import GenerationOptions, Pipeline
from symdiff_tf.generation.tokens import notes
from symdiff_tf.melody.chunks import NUM_CLASSES, STEPS_PER_CHUNK
from symdiff_tf.melody.pianoroll import BARS_PER_CHUNK

SIGNATURES = ("sample", "serving_default", "infill", "encode", "decode")
PROVENANCE_FILENAME = "provenance.json"
CONFIG_FILENAME = "config.yaml"
MAX_RESAMPLE = 20  # passes per step the `infill` signature accepts


def _package_versions() -> dict:
    from importlib import metadata

    versions = {}
    for name in ("symdiff-tf", "tensorflow", "keras", "numpy", "protobuf"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def provenance(pipeline: Pipeline, defaults: GenerationOptions, vae_path=None) -> dict:
    """What the bundle was made from: data, the VAE's content hash, training steps, settings, package versions."""
    model = pipeline.model
    sampling = model.config.sampling
    return {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "diffusion_run": str(model.source), "training_steps": model.training_steps,
        "ema_weights": model.config.train.ema,
        "data": model.recorded.get("data"), "val_data": model.recorded.get("val_data"),
        "vae_content_hash": pipeline.vae_content_hash, "vae_file": None if vae_path is None else str(vae_path),
        "musicvae": pipeline.vae.get_config(),
        "latent_scaling": model.scaler.to_dict(), "fill": model.latents.fill,
        "rest_chunks": "encoded" if model.rests_encoded else "zero latents",
        "sampler": {"num_diffusion_steps": pipeline.num_steps, "ddpm_form": sampling.ddpm_form,
                    "schedulers": list(schedulers.NAMES), "default_scheduler": defaults.scheduler,
                    "default_steps": defaults.steps, "default_eta": defaults.eta,
                    "default_infill_resample": defaults.resample,
                    "default_infill_repeat_start": defaults.repeat_start},
        "signatures": list(SIGNATURES),
        "packages": _package_versions(),
    }


class Bundle(tf.Module):
    """The exported module: variables, assets and one `tf.function` per signature (see the module docstring).
    `defaults`: the options of `serving_default`."""

    def __init__(self, pipeline: Pipeline, defaults: GenerationOptions, asset_files):
        super().__init__(name="symdiff_bundle")
        # the tf.Variables inside the Keras variables, as Keras' own ExportArchive holds them: the Keras wrappers
        # would be saved as copies that graph-mode loaders (TF Serving, tf.compat.v1 sessions) restore while the
        # functions read the originals
        self.diffusion_variables = [v.value for v in pipeline.model.network.variables]
        self.musicvae_variables = [v.value for v in pipeline.vae.variables]
        self.assets = [tf.saved_model.Asset(str(path)) for path in asset_files]
        chunks, k = pipeline.chunks, pipeline.latent_dim
        bars = chunks * BARS_PER_CHUNK
        num_steps = pipeline.num_steps
        last_class = NUM_CLASSES - 1
        eta_users = [schedulers.NAMES.index(n) for n, c in schedulers.SCHEDULERS.items() if c.uses_eta]
        resamplers = tf.constant([c.can_resample for c in schedulers.SCHEDULERS.values()])
        resampling_names = " or ".join(n for n, c in schedulers.SCHEDULERS.items() if c.can_resample)

        def unknown(dtype, name):
            return tf.TensorSpec(None, dtype, name=name)

        def options(seeds, scheduler, steps, eta, temperature):
            seeds = checks.has_shape(seeds, "seeds", [None], "int32 [batch], one seed per melody, batch >= 1")
            scheduler = checks.has_shape(scheduler, "scheduler", [], "a string scalar")
            index = checks.one_of(scheduler, "scheduler", schedulers.NAMES)
            steps = checks.has_shape(steps, "steps", [], "an int32 scalar")
            steps = checks.in_range(steps, "steps", 1, num_steps, f"1..{num_steps} (the model's schedule)")
            eta = checks.has_shape(eta, "eta", [], "a float32 scalar")
            eta = checks.in_range(eta, "eta", 0.0, float("inf"), "a finite number >= 0")
            eta = checks.zero_unless(eta, "eta", tf.reduce_any(tf.equal(index, eta_users)),
                                     "only ddim has an eta; give 0 for the other schedulers")
            return seeds, index, steps, eta, checked_temperature(temperature)

        def checked_temperature(temperature):
            temperature = checks.has_shape(temperature, "temperature", [], "a float32 scalar")
            return checks.in_range(temperature, "temperature", 0.0, float("inf"),
                                   "a finite number >= 0 (0 = greedy decoding)")

        def checked_tokens(tokens):
            tokens = checks.has_shape(tokens, "tokens", [None, chunks, STEPS_PER_CHUNK],
                                      f"int32 [batch, {chunks}, {STEPS_PER_CHUNK}], batch >= 1")
            return checks.in_range(tokens, "tokens", 0, last_class,
                                   f"class indices 0..{last_class} (0 no event, 1 note off, 2.. onsets of "
                                   "MIDI pitch 21..108)")

        def outputs(melodies):
            found = notes(melodies["joined"])
            files = midi.midi_files(found["pitches"], found["starts"], found["ends"], found["num_notes"],
                                    chunks * STEPS_PER_CHUNK)
            return {"tokens": melodies["tokens"], "latents": melodies["latents"], **found, "midi_bytes": files}

        option_specs = [unknown(tf.string, "scheduler"), unknown(tf.int32, "steps"), unknown(tf.float32, "eta"),
                        unknown(tf.float32, "temperature")]

        @tf.function(input_signature=[unknown(tf.int32, "seeds"), *option_specs], autograph=False)
        def sample(seeds, scheduler, steps, eta, temperature):
            return outputs(pipeline.sample_graph(*options(seeds, scheduler, steps, eta, temperature)))

        @tf.function(input_signature=[unknown(tf.int32, "seeds")], autograph=False)
        def serving_default(seeds):
            return sample(seeds, tf.constant(defaults.scheduler), tf.constant(defaults.steps, tf.int32),
                          tf.constant(defaults.eta, tf.float32), tf.constant(defaults.temperature, tf.float32))

        @tf.function(input_signature=[unknown(tf.int32, "tokens"), unknown(tf.bool, "mask"),
                                      unknown(tf.int32, "seeds"), *option_specs, unknown(tf.int32, "resample"),
                                      unknown(tf.float32, "repeat_start")],
                     autograph=False)
        def infill(tokens, mask, seeds, scheduler, steps, eta, temperature, resample, repeat_start):
            tokens = checked_tokens(tokens)
            batch = tf.shape(tokens)[0]
            mask = checks.has_shape(mask, "mask", [None, bars], f"bool [batch, {bars}], true = keep the bar")
            mask = checks.regenerates_some(checks.same_batch(mask, "mask", batch, "tokens"), "mask")
            seeds, index, steps, eta, temperature = options(seeds, scheduler, steps, eta, temperature)
            seeds = checks.same_batch(seeds, "seeds", batch, "tokens")
            resample = checks.has_shape(resample, "resample", [], "an int32 scalar")
            most = tf.where(tf.gather(resamplers, index), MAX_RESAMPLE, 1)
            resample = checks.in_range(resample, "resample", 1, most, f"1..{MAX_RESAMPLE} passes per step, more "
                                       f"than 1 only with {resampling_names}")
            repeat_start = checks.has_shape(repeat_start, "repeat_start", [], "a float32 scalar")
            repeat_start = checks.in_range(repeat_start, "repeat_start", 1e-6, 1.0,
                                           "a number in (0, 1] (1 = the regenerated bars from noise)")
            return outputs(pipeline.infill_graph(tokens, mask, seeds, index, steps, eta, temperature, resample,
                                                 repeat_start))

        @tf.function(input_signature=[unknown(tf.int32, "tokens")], autograph=False)
        def encode(tokens):
            mu, sigma = pipeline.codec.encode(checked_tokens(tokens))
            return {"mu": mu, "sigma": sigma}

        @tf.function(input_signature=[unknown(tf.float32, "latents"), unknown(tf.float32, "temperature")],
                     autograph=False)
        def decode(latents, temperature):
            latents = checks.has_shape(latents, "latents", [None, chunks, k],
                                       f"float32 [batch, {chunks}, {k}] (scaled latents), batch >= 1")
            latents = checks.in_range(latents, "latents", float("-inf"), float("inf"), "finite values")
            seeds = tf.zeros(tf.shape(latents)[:1], tf.int32)
            return outputs(pipeline.decode_graph(latents, checked_temperature(temperature), seeds))

        self.sample, self.serving_default, self.infill = sample, serving_default, infill
        self.encode, self.decode = encode, decode

    def signature_map(self) -> dict:
        """Every name of `SIGNATURES` → its function, traced when saved."""
        return {name: getattr(self, name) for name in SIGNATURES}


def version_folder(out_dir) -> pathlib.Path:
    """`out_dir` as DIR/NAME/VERSION with VERSION a positive integer (TF Serving's layout), not yet holding a
    model; ValueError saying what was expected."""
    out_dir = pathlib.Path(out_dir)
    if not out_dir.name.isdigit() or int(out_dir.name) < 1 or len(out_dir.parts) < 2:
        raise ValueError(f"--out {out_dir}: expected DIR/NAME/VERSION with VERSION a positive integer (TF Serving "
                         "serves the highest version in DIR/NAME), e.g. saved_models/symdiff/1")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(f"--out {out_dir}: already holds files; pick the next VERSION number")
    return out_dir


def export_bundle(vae, run_dir, out_dir, vae_path=None, defaults: dict | None = None,
                  config_file=None, overrides=()) -> pathlib.Path:
    """Writes the SavedModel of `vae` (a `MusicVAE`) and the diffusion run in `run_dir` to `out_dir`
    (DIR/NAME/VERSION) and returns it. `vae_path` is recorded in the provenance when given. `defaults`: the
    scheduler, steps and eta of `serving_default` (`Pipeline.options` keywords; None: the model's defaults).
    `config_file`: a config whose `ddpm:` section the bundle takes instead of the run's (it must fit the weights;
    e.g. other sampling defaults); `overrides`: `ddpm.KEY=VALUE` strings applied to it (or to the run's own); with
    either, the bundle's `config.yaml` is written from the sections in effect."""
    import dataclasses

    from symdiff_tf.diffusion.inference import open_run

    out_dir = version_folder(out_dir)
    model = open_run(run_dir, config_file, overrides)
    if config_file is not None or overrides:
        model = dataclasses.replace(model, config_file=None)  # `write_config` writes what is in effect
    pipeline = Pipeline(model, vae)
    return write_bundle(pipeline, out_dir, pipeline.options(**(defaults or {})), vae_path)


def write_bundle(pipeline: Pipeline, out_dir, defaults: GenerationOptions, vae_path=None) -> pathlib.Path:
    """Writes the SavedModel of `pipeline` to `out_dir` (a checked `version_folder`) with the run's config, the
    latent scaling and the provenance as assets; `defaults` are the options of `serving_default`."""
    model = pipeline.model
    out_dir = pathlib.Path(out_dir)
    with tempfile.TemporaryDirectory() as staging:
        staging = pathlib.Path(staging)
        if model.config_file is not None:
            shutil.copyfile(model.config_file, staging / CONFIG_FILENAME)
        else:
            write_config(model, staging / CONFIG_FILENAME)
        model.scaler.save(staging)
        (staging / PROVENANCE_FILENAME).write_text(
            json.dumps(provenance(pipeline, defaults, vae_path), indent=1) + "\n", encoding="utf-8")
        bundle = Bundle(pipeline, defaults, sorted(staging.iterdir()))
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        partial = out_dir.with_name(f".{out_dir.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        tf.saved_model.save(bundle, str(partial), signatures=bundle.signature_map())
        if out_dir.exists():
            out_dir.rmdir()
        partial.rename(out_dir)
    return out_dir


def write_config(model, path) -> None:
    """A config file with the model's `ddpm:` and `latents:` sections (for a model that has no file of its own,
    e.g. one reopened from a bundle)."""
    import yaml

    from symdiff_tf.config import to_dict

    sections = {"ddpm": to_dict(model.config), "latents": to_dict(model.latents), **model.recorded}
    pathlib.Path(path).write_text(yaml.safe_dump(sections, sort_keys=False), encoding="utf-8")
