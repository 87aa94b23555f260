"""The one generation pipeline: a trained diffusion model + a scheduler + the MusicVAE codec, from seeds or a
melody template to scaled latents, MusicVAE tokens, notes, MIDI and piano rolls. Every caller uses it: the
command line on every path, `symdiff evaluate`, `symdiff export` (the SavedModel holds its graph pieces, `*_graph`)
and the benchmarks.

    pipeline = Pipeline(open_run("runs/ddpm"), musicvae.load("vae.keras"))
    options = pipeline.options(scheduler="dpm-solver++", steps=20)   # None: the model's defaults
    melodies = pipeline.sample([1, 2, 3], options)                   # one melody per seed
    melodies.write("out", ["a", "b", "c"])                           # a.mid, a.png, …, pianorolls.png

One seed per melody (`symdiff_tf.models_common.noise`): melody b comes out the same in any batch, from the library or
the SavedModel. Schedulers: `symdiff_tf.diffusion.schedulers`; `temperature` is the MusicVAE decoder's (0 = greedy).
"""
from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import tensorflow as tf

from symdiff_tf.diffusion import schedulers
from symdiff_tf.diffusion.repeat_start import check_repeat_start
from symdiff_tf.diffusion.reverse import check_resample
from symdiff_tf.models_common import noise
from symdiff_tf.generation.codec import LatentCodec
from symdiff_tf.generation.tokens import chunks_of_bars, joined_tokens, sounding_flags
from symdiff_tf.musicvae.identity import check_vae
from symdiff_tf.melody.chunks import NUM_CLASSES, STEPS_PER_BAR, STEPS_PER_CHUNK
from symdiff_tf.melody.pianoroll import BARS_PER_CHUNK, save_pianoroll, save_pianoroll_grid
from symdiff_tf.melody.render import notes_to_tokens, tokens_to_midi, tokens_to_notes


@dataclasses.dataclass
class Melodies:
    """Generated melodies. tokens: int32 `[B, 32, 32]` (the decoder's, or the input's in kept bars); joined:
    the same with the note offs that say how notes join across bars (`tokens.joined_tokens`), what MIDI, notes
    and piano rolls are made from; latents: the scaled latents `[B, 32, k]` (None when made `from_notes`);
    real_bars: bool `[B, 64]`, the bars that are the input's own (all False when sampling); midi_bytes: one
    standard MIDI file per melody as the SavedModel made it (None: made from `joined` when written)."""

    tokens: np.ndarray
    joined: np.ndarray
    latents: np.ndarray | None
    real_bars: np.ndarray
    midi_bytes: list | None = None

    @classmethod
    def from_notes(cls, tokens, pitches, starts, ends, num_notes, real_bars=None, midi_bytes=None) -> "Melodies":
        """Melodies from the SavedModel's outputs (`tokens` `[B, 32, 32]`, the padded notes, `num_notes` and its
        `midi_bytes`), without latents: `joined` is made from the notes (`render.notes_to_tokens`, continuous)."""
        tokens = np.asarray(tokens, np.int32)
        chunks = tokens.shape[1]
        joined = np.stack([notes_to_tokens(starts[i, :count], ends[i, :count], pitches[i, :count], chunks,
                                           continuous=True) for i, count in enumerate(np.asarray(num_notes))])
        if real_bars is None:
            real_bars = np.zeros((len(tokens), chunks * BARS_PER_CHUNK), bool)
        return cls(tokens, joined.astype(np.int32), None, np.asarray(real_bars, bool),
                   None if midi_bytes is None else [bytes(b) for b in midi_bytes])

    def __len__(self):
        return len(self.tokens)

    def notes(self, index: int):
        """(starts, ends, pitches) of melody `index`, int64 `[n_notes]` each, in 16th-note steps."""
        return tokens_to_notes(self.joined[index], continuous=True)

    def midi(self, index: int, path=None) -> bytes:
        """Standard MIDI file bytes of melody `index` (also written to `path` when given): the SavedModel's own
        bytes when it made them, else rendered from `joined`."""
        if self.midi_bytes is None:
            return tokens_to_midi(self.joined[index], path, continuous=True)
        if path is not None:
            pathlib.Path(path).write_bytes(self.midi_bytes[index])
        return self.midi_bytes[index]

    def write(self, out_dir, names, grid: str | None = "pianorolls.png") -> list[pathlib.Path]:
        """Writes NAME.mid and NAME.png per melody into `out_dir` (made if needed), and all piano rolls in one
        `grid` PNG (None: no grid). Returns the paths written."""
        out_dir = pathlib.Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if len(names) != len(self):
            raise ValueError(f"{len(names)} names for {len(self)} melodies")
        written = []
        for index, name in enumerate(names):
            written.append(out_dir / f"{name}.mid")
            self.midi(index, written[-1])
            written.append(save_pianoroll(out_dir / f"{name}.png", self.joined[index], continuous=True,
                                          title=name))
        if grid:
            written.append(save_pianoroll_grid(out_dir / grid, list(self.joined), titles=list(names),
                                               continuous=True, columns=1))
        return written


@dataclasses.dataclass(frozen=True)
class GenerationOptions:
    """How to generate: scheduler (a name of `schedulers.NAMES`), steps (1..N), eta (DDIM's stochasticity; 0 for
    the others), temperature (the decoder's, ≥ 0, 0 = greedy), resample (passes per step when infilling, 1 = the
    paper's replacement; `LatentSampler.run_span`), repeat_start (in (0, 1]: where infilling starts the gap, 1 =
    from noise; `symdiff_tf.diffusion.repeat_start`). Made by `Pipeline.options`, which checks them."""

    scheduler: str
    steps: int
    eta: float
    temperature: float
    resample: int = 1
    repeat_start: float = 1.0

    @property
    def scheduler_eta(self):
        """eta for a scheduler that has one, else None (`LatentSampler.sample`'s `eta`)."""
        return self.eta if schedulers.SCHEDULERS[self.scheduler].uses_eta else None

    def describe(self, infilling: bool = False) -> str:
        eta = f", eta {self.eta:g}" if self.scheduler_eta is not None else ""
        passes = f", {self.resample} passes per step" if infilling and self.resample > 1 else ""
        if infilling and self.repeat_start < 1:
            passes += f", repeat start {self.repeat_start:g} (from the kept bars 16 away)"
        return f"{self.scheduler}, {self.steps} steps{eta}{passes}, temperature {self.temperature:g}"


def resolve_options(defaults, scheduler=None, steps=None, eta=None, temperature=0.0,
                    resample=None, repeat_start=None) -> GenerationOptions:
    """`GenerationOptions` for a model's `SamplingDefaults` (its `LatentSampler`, or a bundle's), None meaning its
    default: scheduler the model's `sampling.method`; steps that scheduler's default (`default_steps`); eta the
    model's `sampling.ddim_eta` for DDIM (an eta given to another scheduler is an error); resample the model's
    `sampling.infill_resample` for a scheduler that can take a step again, else 1; repeat_start the model's
    `sampling.infill_repeat_start`. ValueError naming the option."""
    name = schedulers.check_name(scheduler, "--scheduler") if scheduler is not None else defaults.default_scheduler
    uses_eta = schedulers.SCHEDULERS[name].uses_eta
    if eta is not None and not uses_eta:
        raise ValueError(f"--eta {eta:g}: the {name} scheduler has no eta (only "
                         f"{', '.join(n for n, c in schedulers.SCHEDULERS.items() if c.uses_eta)})")
    eta = (defaults.sampling.ddim_eta if eta is None else float(eta)) if uses_eta else 0.0
    if not np.isfinite(eta) or eta < 0:
        raise ValueError(f"--eta {eta:g}: expected a number >= 0")
    steps = defaults.check_steps(defaults.default_steps(name) if steps is None else steps, "--steps")
    temperature = float(temperature)
    if not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"--temperature {temperature:g}: expected a finite number >= 0 (0 = greedy)")
    scheduler_class = schedulers.SCHEDULERS[name]
    if resample is None:
        resample = defaults.sampling.infill_resample if scheduler_class.can_resample else 1
    resample = check_resample(resample, scheduler_class, "--resample")
    repeat_start = check_repeat_start(defaults.sampling.infill_repeat_start if repeat_start is None
                                      else repeat_start, "--repeat-start")
    return GenerationOptions(name, steps, eta, temperature, resample, repeat_start)


class Pipeline:
    """Generation with a `DiffusionModel` (`symdiff_tf.diffusion.inference.open_run`, or a bundle's
    `symdiff_tf.export.reload.open_bundle_model`) and the MusicVAE that encoded its training data (refused when
    the model recorded another one). batch_size: melodies per compiled call (bigger batches are split)."""

    def __init__(self, model, vae, batch_size: int = 16):
        if vae.z_size != model.scaler.z_size:
            raise ValueError(f"{model.source}: the model's latents are {model.scaler.z_size}-d, the MusicVAE's "
                             f"z_size is {vae.z_size}: use the VAE that encoded its training data")
        self.vae_content_hash = check_vae(vae, model.vae_content_hash, f"the model {model.source}")
        self.model, self.vae, self.batch_size = model, vae, int(batch_size)
        self.sampler = model.sampler
        self.codec = LatentCodec(vae, model.scaler, model.latents.fill, zero_rests=not model.rests_encoded)
        self.num_steps = self.sampler.num_diffusion_steps
        self.chunks, self.latent_dim = self.sampler.window_shape
        self._compiled = {}

    def options(self, scheduler=None, steps=None, eta=None, temperature=0.0, resample=None,
                repeat_start=None) -> GenerationOptions:
        """Checked options, None meaning the model's default (`resolve_options`)."""
        return resolve_options(self.sampler, scheduler, steps, eta, temperature, resample, repeat_start)

    def describe(self) -> str:
        """What generates: the model's source (a run directory or a bundle folder)."""
        return str(self.model.source)

    # ----- graph pieces (tensors in and out, no input checks): the SavedModel calls these too --------------
    def _melodies(self, scaled, pairs, temperature, tokens=None, real_bars=None):
        """Scaled latents → {tokens, joined, latents}; the real bars of `tokens` `[B, 32, 32]` are pasted back."""
        decoded = self.codec.decode(self.codec.refill(scaled, pairs), pairs, temperature)
        if real_bars is None:
            real_bars = tf.zeros([tf.shape(scaled)[0], self.chunks * BARS_PER_CHUNK], tf.bool)
        else:
            real_steps = tf.reshape(tf.repeat(real_bars, STEPS_PER_BAR, axis=1), tf.shape(decoded))
            decoded = tf.where(real_steps, tf.cast(tokens, tf.int32), decoded)
        return {"tokens": decoded, "joined": joined_tokens(decoded, real_bars), "latents": scaled}

    def sample_graph(self, seeds, scheduler_index, steps, eta, temperature):
        """seeds int `[B]`, scheduler_index int32 (position in `schedulers.NAMES`), steps int32, eta and
        temperature float32 scalars → dict of `_melodies`."""
        pairs = noise.seed_pairs(seeds)
        scaled = self.sampler.generate(pairs, self.sampler.switch(scheduler_index, eta), steps)
        return self._melodies(scaled, pairs, temperature)

    def infill_graph(self, tokens, real_bars, seeds, scheduler_index, steps, eta, temperature, resample,
                     repeat_start):
        """tokens int `[B, 32, 32]`, real_bars bool `[B, 64]` (True = keep the bar), resample int32 (passes per
        step), repeat_start float32 (in (0, 1], 1 = the gap from noise; it starts from kept chunks with notes),
        the rest as `sample_graph` → dict of `_melodies`. Chunks with both bars kept are the diffusion template;
        every kept bar is pasted back into the decoded tokens."""
        pairs = noise.seed_pairs(seeds)
        keep_chunks = chunks_of_bars(real_bars)
        scaled = self.sampler.generate(pairs, self.sampler.switch(scheduler_index, eta), steps,
                                       self.codec.template(tokens), keep_chunks, resample, repeat_start,
                                       keep_chunks & sounding_flags(tokens))
        return self._melodies(scaled, pairs, temperature, tokens, real_bars)

    def decode_graph(self, latents, temperature, seeds):
        """Scaled latents `[B, 32, k]`, temperature, seeds `[B]` (refill and Gumbel noise) → `_melodies`."""
        return self._melodies(tf.cast(latents, tf.float32), noise.seed_pairs(seeds), temperature)

    # ----- the library's interface (numpy in, numpy out) ---------------------------------------------------
    def _function(self, name, build, signature):
        if name not in self._compiled:
            self._compiled[name] = tf.function(build, input_signature=signature, autograph=False)
        return self._compiled[name]

    def _batched(self, name, build, signature, arrays, progress):
        """Runs the compiled `build` over `arrays` (batch-first) in batches; concatenates the dict outputs."""
        function = self._function(name, build, signature)
        total = len(arrays[0])
        starts = range(0, total, self.batch_size)
        if progress and len(starts) > 1:
            import tqdm

            starts = tqdm.tqdm(starts, desc=progress, unit="batch")
        parts = [function(*(a[i:i + self.batch_size] if np.ndim(a) else a for a in arrays)) for i in starts]
        return {key: np.concatenate([np.asarray(part[key]) for part in parts]) for key in parts[0]}

    @staticmethod
    def _option_arrays(options: GenerationOptions):
        return [np.int32(schedulers.NAMES.index(options.scheduler)), np.int32(options.steps),
                np.float32(options.eta), np.float32(options.temperature)]

    @staticmethod
    def _seeds(seeds):
        seeds = np.asarray(seeds)
        if seeds.ndim != 1 or not len(seeds) or not np.issubdtype(seeds.dtype, np.integer):
            raise ValueError(f"seeds must be a non-empty list of ints (one per melody), got {seeds!r}")
        if seeds.min() < -2**31 or seeds.max() >= 2**31:
            raise ValueError("seeds must fit in int32")
        return seeds.astype(np.int32)

    def _result(self, outputs, real_bars=None):
        if real_bars is None:  # every bar decoded
            real_bars = np.zeros((len(outputs["tokens"]), self.chunks * BARS_PER_CHUNK), bool)
        return Melodies(outputs["tokens"], outputs["joined"], outputs["latents"], np.asarray(real_bars, bool))

    def _specs(self, *names):
        chunks, k = self.chunks, self.latent_dim
        scalar = {"scheduler_index": tf.int32, "steps": tf.int32, "eta": tf.float32, "temperature": tf.float32,
                  "resample": tf.int32, "repeat_start": tf.float32}
        specs = {name: tf.TensorSpec([], dtype) for name, dtype in scalar.items()}
        specs.update({"seeds": tf.TensorSpec([None], tf.int32),
                      "tokens": tf.TensorSpec([None, chunks, STEPS_PER_CHUNK], tf.int32),
                      "real_bars": tf.TensorSpec([None, chunks * BARS_PER_CHUNK], tf.bool),
                      "latents": tf.TensorSpec([None, chunks, k], tf.float32)})
        return [specs[name] for name in names]

    def sample(self, seeds, options: GenerationOptions | None = None, progress: str | None = "sampling") -> Melodies:
        """One melody per seed, with `options` (None: the model's defaults, `options()`)."""
        options = options or self.options()
        outputs = self._batched(
            "sample", self.sample_graph,
            self._specs("seeds", "scheduler_index", "steps", "eta", "temperature"),
            [self._seeds(seeds), *self._option_arrays(options)], progress)
        return self._result(outputs)

    def infill(self, tokens, keep, seeds, options: GenerationOptions | None = None,
               progress: str | None = "infilling") -> Melodies:
        """Regenerates what `keep` does not keep of `tokens` `[B, 32, 32]` (or one window `[32, 32]`).

        keep: bool per chunk `[B, 32]` or per bar `[B, 64]` (or without the batch axis), True = keep. Kept bars
        come back token for token; a chunk is generated whenever one of its bars is not kept.
        """
        options = options or self.options()
        tokens = np.asarray(tokens)
        tokens = tokens[None] if tokens.ndim == 2 else tokens
        if tokens.shape[1:] != (self.chunks, STEPS_PER_CHUNK) or not np.issubdtype(tokens.dtype, np.integer):
            raise ValueError(f"tokens must be ints [batch, {self.chunks}, {STEPS_PER_CHUNK}], got {tokens.dtype} "
                             f"{tokens.shape}")
        if tokens.min() < 0 or tokens.max() >= NUM_CLASSES:
            raise ValueError(f"tokens must be class indices 0..{NUM_CLASSES - 1}")
        real_bars = self._keep_bars(keep, len(tokens))
        seeds = self._seeds(seeds)
        if len(seeds) != len(tokens):
            raise ValueError(f"{len(seeds)} seeds for {len(tokens)} melodies: one seed per melody")
        outputs = self._batched(
            "infill", self.infill_graph,
            self._specs("tokens", "real_bars", "seeds", "scheduler_index", "steps", "eta", "temperature",
                        "resample", "repeat_start"),
            [tokens.astype(np.int32), real_bars, seeds, *self._option_arrays(options), np.int32(options.resample),
             np.float32(options.repeat_start)],
            progress)
        return self._result(outputs, real_bars)

    def _keep_bars(self, keep, batch: int) -> np.ndarray:
        """`keep` per chunk or per bar, with or without the batch axis → bool `[batch, 64]`, checked."""
        keep = np.asarray(keep, bool)
        keep = keep[None] if keep.ndim == 1 else keep
        bars = self.chunks * BARS_PER_CHUNK
        if keep.ndim != 2 or keep.shape[1] not in (self.chunks, bars):
            raise ValueError(f"keep must be bool [batch, {self.chunks}] (chunks) or [batch, {bars}] (bars), "
                             f"got shape {keep.shape}")
        if keep.shape[1] == self.chunks:
            keep = np.repeat(keep, BARS_PER_CHUNK, axis=1)
        keep = np.broadcast_to(keep, (batch, bars)).copy()
        for index, row in enumerate(keep):
            if row.all():
                raise ValueError(f"keep of melody {index}: it keeps every bar; regenerate at least one")
        return keep

    def decode(self, latents, temperature=0.0, seeds=None, progress: str | None = "decoding") -> Melodies:
        """Scaled latents `[B, 32, k]` → melodies. seeds (one per melody, default 0): the refill and Gumbel
        noise, as in `sample` with those seeds."""
        latents = np.asarray(latents, np.float32)
        if latents.ndim != 3 or latents.shape[1:] != (self.chunks, self.latent_dim):
            raise ValueError(f"latents must be [batch, {self.chunks}, {self.latent_dim}], got {latents.shape}")
        seeds = self._seeds(np.zeros(len(latents), np.int32) if seeds is None else seeds)
        temperature = self.options(temperature=temperature).temperature
        outputs = self._batched("decode", self.decode_graph, self._specs("latents", "temperature", "seeds"),
                                [latents, np.float32(temperature), seeds], progress)
        return self._result(outputs)

    def encode(self, tokens):
        """Tokens `[B, 32, 32]` → (mu, sigma) numpy float32 `[B, 32, z_size]`."""
        function = self._function("encode", self.codec.encode, self._specs("tokens"))
        mu, sigma = function(np.asarray(tokens, np.int32))
        return np.asarray(mu), np.asarray(sigma)

    def template(self, tokens):
        """Tokens `[B, 32, 32]` → the scaled infilling template `[B, 32, k]` (rest chunks as the model's data)."""
        return np.asarray(self._function("template", self.codec.template, self._specs("tokens"))(
            np.asarray(tokens, np.int32)))
