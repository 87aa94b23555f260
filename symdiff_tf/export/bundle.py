"""`export_bundle`: one SavedModel that serves the whole generation path, in TF Serving's layout DIR/NAME/VERSION.

Signatures (docs/serving.md):
- `sample` = `serving_default`: seeds int32 `[B]`, steps int32 `[]`, temperature float32 `[]`;
- `infill`: tokens int32 `[B, 32, 32]`, mask bool `[B, 32]` (true = keep the chunk), seeds, steps, temperature;
- `encode`: tokens → mu, sigma float32 `[B, 32, z_size]`;
- `decode`: latents float32 `[B, 32, k]` (scaled, as the diffusion model makes them), temperature; the refill
  and Gumbel noise of seed 0, so `decode` of a melody's latents is `sample` with seed 0.
All but `encode` return tokens int32 `[B, 32, 32]`, the notes pitches, starts, ends int32 `[B, M]` (16th-note
steps, zero past num_notes `[B]`) and midi_bytes string `[B]` (one standard MIDI file each).

The graph is `symdiff_tf.generation.Generator`'s own (same seed, same melody as the library), plus the input
checks (`checks`) and the notes and MIDI files as graph ops. Only stock TensorFlow ops: no py_function, no XLA.
The module holds the network's variables (the EMA weights when the run kept them) and the MusicVAE's; the
scaler and kept dims are constants; the run's config and a provenance record are assets.
"""
from __future__ import annotations

import datetime
import json
import pathlib
import shutil
import tempfile

import tensorflow as tf

from symdiff_tf.export import checks
from symdiff_tf.generation import midi
from symdiff_tf.generation.generator import Generator
from symdiff_tf.generation.tokens import bars_of_chunks, notes
from symdiff_tf.melody.chunks import NUM_CLASSES, STEPS_PER_CHUNK

SIGNATURES = ("sample", "serving_default", "infill", "encode", "decode")
PROVENANCE_FILENAME = "provenance.json"
CONFIG_FILENAME = "config.yaml"


def _package_versions() -> dict:
    from importlib import metadata

    versions = {}
    for name in ("symdiff-tf", "tensorflow", "keras", "numpy", "protobuf"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def provenance(generator: Generator, vae_path=None) -> dict:
    """What the bundle was made from: data, the VAE's content hash, training steps, settings, package versions."""
    run = generator.run
    sampling = run.config.sampling
    return {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "diffusion_run": str(run.source), "training_steps": run.training_steps, "ema_weights": run.config.train.ema,
        "data": run.recorded.get("data"), "val_data": run.recorded.get("val_data"),
        "vae_content_hash": generator.vae_content_hash, "vae_file": None if vae_path is None else str(vae_path),
        "musicvae": generator.vae.get_config(),
        "latent_scaling": run.scaler.to_dict(), "fill": run.latents.fill,
        "rest_chunks": "encoded" if run.rests_encoded else "zero latents",
        "sampler": {"num_diffusion_steps": generator.num_steps, "ddpm_form": sampling.ddpm_form,
                    "variance": generator.sampler.variance, "ddim_eta": sampling.ddim_eta,
                    "ddim_clip_denoised": True},
        "signatures": list(SIGNATURES),
        "packages": _package_versions(),
    }


class Bundle(tf.Module):
    """The exported module: variables, assets and one `tf.function` per signature (see the module docstring)."""

    def __init__(self, generator: Generator, asset_files):
        super().__init__(name="symdiff_bundle")
        # the tf.Variables inside the Keras variables, as Keras' own ExportArchive holds them: the Keras wrappers
        # would be saved as copies that graph-mode loaders (TF Serving, tf.compat.v1 sessions) restore while the
        # functions read the originals
        self.diffusion_variables = [v.value for v in generator.run.sampler.model.variables]
        self.musicvae_variables = [v.value for v in generator.vae.variables]
        self.assets = [tf.saved_model.Asset(str(path)) for path in asset_files]
        chunks, k = generator.chunks, generator.latent_dim
        num_steps = generator.num_steps
        last_class = NUM_CLASSES - 1

        def unknown(dtype, name):
            return tf.TensorSpec(None, dtype, name=name)

        def common(seeds, steps, temperature):
            seeds = checks.has_shape(seeds, "seeds", [None], "int32 [batch], one seed per melody, batch >= 1")
            steps = checks.has_shape(steps, "steps", [], "an int32 scalar")
            steps = checks.in_range(steps, "steps", 1, num_steps,
                                    f"1..{num_steps} ({num_steps} runs DDPM, fewer runs DDIM)")
            return seeds, steps, checked_temperature(temperature)

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
            return {"tokens": melodies["tokens"], **found, "midi_bytes": files}

        @tf.function(input_signature=[unknown(tf.int32, "seeds"), unknown(tf.int32, "steps"),
                                      unknown(tf.float32, "temperature")], autograph=False)
        def sample(seeds, steps, temperature):
            return outputs(generator.sample_graph(*common(seeds, steps, temperature)))

        @tf.function(input_signature=[unknown(tf.int32, "tokens"), unknown(tf.bool, "mask"),
                                      unknown(tf.int32, "seeds"), unknown(tf.int32, "steps"),
                                      unknown(tf.float32, "temperature")], autograph=False)
        def infill(tokens, mask, seeds, steps, temperature):
            tokens = checked_tokens(tokens)
            batch = tf.shape(tokens)[0]
            mask = checks.has_shape(mask, "mask", [None, chunks], f"bool [batch, {chunks}], true = keep the chunk")
            mask = checks.keeps_some_and_not_all(checks.same_batch(mask, "mask", batch, "tokens"), "mask")
            seeds, steps, temperature = common(seeds, steps, temperature)
            seeds = checks.same_batch(seeds, "seeds", batch, "tokens")
            return outputs(generator.infill_graph(tokens, bars_of_chunks(mask), seeds, steps, temperature))

        @tf.function(input_signature=[unknown(tf.int32, "tokens")], autograph=False)
        def encode(tokens):
            mu, sigma = generator.codec.encode(checked_tokens(tokens))
            return {"mu": mu, "sigma": sigma}

        @tf.function(input_signature=[unknown(tf.float32, "latents"), unknown(tf.float32, "temperature")],
                     autograph=False)
        def decode(latents, temperature):
            latents = checks.has_shape(latents, "latents", [None, chunks, k],
                                       f"float32 [batch, {chunks}, {k}] (scaled latents), batch >= 1")
            latents = checks.in_range(latents, "latents", float("-inf"), float("inf"), "finite values")
            seeds = tf.zeros(tf.shape(latents)[:1], tf.int32)
            return outputs(generator.decode_graph(latents, checked_temperature(temperature), seeds))

        self.sample, self.infill, self.encode, self.decode = sample, infill, encode, decode

    def signature_map(self) -> dict:
        """Every name of `SIGNATURES` → its function (`serving_default` is `sample`), traced when saved."""
        return {name: getattr(self, "sample" if name == "serving_default" else name) for name in SIGNATURES}


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


def export_bundle(vae, run_dir, out_dir, vae_path=None) -> pathlib.Path:
    """Writes the SavedModel of `vae` (a `MusicVAE`) and the diffusion run in `run_dir` to `out_dir`
    (DIR/NAME/VERSION) and returns it. `vae_path` is recorded in the provenance when given."""
    from symdiff_tf.generation.run import load_run

    out_dir = version_folder(out_dir)
    generator = Generator(vae, load_run(run_dir))
    run = generator.run
    with tempfile.TemporaryDirectory() as staging:
        staging = pathlib.Path(staging)
        shutil.copyfile(run.config_file, staging / CONFIG_FILENAME)
        run.scaler.save(staging)
        (staging / PROVENANCE_FILENAME).write_text(
            json.dumps(provenance(generator, vae_path), indent=1) + "\n", encoding="utf-8")
        bundle = Bundle(generator, sorted(staging.iterdir()))
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        partial = out_dir.with_name(f".{out_dir.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        tf.saved_model.save(bundle, str(partial), signatures=bundle.signature_map())
        if out_dir.exists():
            out_dir.rmdir()
        partial.rename(out_dir)
    return out_dir
