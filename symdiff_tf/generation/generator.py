"""The one generation path: seeds or a melody template → scaled latents → MusicVAE tokens → notes, MIDI, piano
rolls. The library calls it here; `symdiff_tf.export` puts the same graph pieces (`*_graph`) in a SavedModel.

One seed per melody (`symdiff_tf.generation.noise`): melody b comes out the same in any batch, from the library
or the SavedModel, and its latents are `DiffusionSampler`'s with `num_samples=1, seed=s_b`. `steps` = the
schedule's N runs ancestral DDPM (the run's `sampling.ddpm_form`, σ² = β̃), fewer runs DDIM (the run's
`sampling.ddim_eta`, x̂0 clipped); `temperature` is the MusicVAE decoder's (0 = greedy).
"""
from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import tensorflow as tf

from symdiff_tf.generation import noise
from symdiff_tf.generation.codec import LatentCodec
from symdiff_tf.generation.run import check_vae
from symdiff_tf.generation.sampler import SeededSampler
from symdiff_tf.generation.tokens import chunks_of_bars, joined_tokens
from symdiff_tf.melody.chunks import NUM_CLASSES, STEPS_PER_BAR, STEPS_PER_CHUNK
from symdiff_tf.melody.pianoroll import BARS_PER_CHUNK, save_pianoroll, save_pianoroll_grid
from symdiff_tf.melody.render import notes_to_tokens, tokens_to_midi, tokens_to_notes


@dataclasses.dataclass
class Melodies:
    """Generated melodies. tokens: int32 `[B, 32, 32]` (the decoder's, or the input's in kept bars); joined:
    the same with the note offs that say how notes join across bars (`tokens.joined_tokens`), what MIDI, notes
    and piano rolls are made from; latents: the scaled latents `[B, 32, k]` (None when made `from_notes`);
    real_bars: bool `[B, 64]`, the bars that are the input's own (all False when sampling)."""

    tokens: np.ndarray
    joined: np.ndarray
    latents: np.ndarray | None
    real_bars: np.ndarray

    @classmethod
    def from_notes(cls, tokens, pitches, starts, ends, num_notes, real_bars=None) -> "Melodies":
        """Melodies from the SavedModel's outputs (`tokens` `[B, 32, 32]`, the padded notes and `num_notes`),
        without latents: `joined` is made from the notes (`render.notes_to_tokens`, continuous)."""
        tokens = np.asarray(tokens, np.int32)
        chunks = tokens.shape[1]
        joined = np.stack([notes_to_tokens(starts[i, :count], ends[i, :count], pitches[i, :count], chunks,
                                           continuous=True) for i, count in enumerate(np.asarray(num_notes))])
        if real_bars is None:
            real_bars = np.zeros((len(tokens), chunks * BARS_PER_CHUNK), bool)
        return cls(tokens, joined.astype(np.int32), None, np.asarray(real_bars, bool))

    def __len__(self):
        return len(self.tokens)

    def notes(self, index: int):
        """(starts, ends, pitches) of melody `index`, int64 `[n_notes]` each, in 16th-note steps."""
        return tokens_to_notes(self.joined[index], continuous=True)

    def midi(self, index: int, path=None) -> bytes:
        """Standard MIDI file bytes of melody `index` (also written to `path` when given)."""
        return tokens_to_midi(self.joined[index], path, continuous=True)

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


class Generator:
    """The generation path over a MusicVAE and a trained diffusion run (`symdiff_tf.generation.run.load_run`).

    Args:
        vae: the `MusicVAE` that encoded the run's training data (`vae_content_hash` is its identity; a run that
            recorded another one is refused).
        run: a `TrainedRun`.
        batch_size: melodies per compiled call (bigger batches are split, with a progress bar).
    """

    def __init__(self, vae, run, batch_size: int = 16):
        self.vae_content_hash = check_vae(vae, run)
        sampling = run.config.sampling
        self.vae, self.run, self.batch_size = vae, run, int(batch_size)
        self.sampler = SeededSampler(run.sampler, sampling.ddpm_form, "beta_tilde", sampling.ddim_eta)
        self.codec = LatentCodec(vae, run.scaler, run.latents.fill, zero_rests=not run.rests_encoded)
        self.num_steps = self.sampler.num_steps
        self.default_steps = self.num_steps if sampling.method == "ddpm" else int(sampling.ddim_steps)
        self.chunks, self.latent_dim = self.sampler.window_shape
        self._compiled = {}

    @classmethod
    def from_files(cls, vae_path, run_dir, batch_size: int = 16) -> "Generator":
        """A generator from a MusicVAE `.keras` file and a run directory."""
        from symdiff_tf import musicvae
        from symdiff_tf.generation.run import load_run

        return cls(musicvae.load(vae_path), load_run(run_dir), batch_size)

    # ----- graph pieces (tensors in and out, no input checks): the SavedModel calls these too --------------
    def _melodies(self, scaled, pairs, temperature, tokens=None, real_bars=None):
        """Scaled latents → {tokens, joined, latents}; the real bars of `tokens` `[B, 32, 32]` stay as they are."""
        decoded = self.codec.decode(self.codec.refill(scaled, pairs), pairs, temperature)
        if real_bars is None:
            real_bars = tf.zeros([tf.shape(scaled)[0], self.chunks * BARS_PER_CHUNK], tf.bool)
        else:
            real_steps = tf.reshape(tf.repeat(real_bars, STEPS_PER_BAR, axis=1), tf.shape(decoded))
            decoded = tf.where(real_steps, tf.cast(tokens, tf.int32), decoded)
        return {"tokens": decoded, "joined": joined_tokens(decoded, real_bars), "latents": scaled}

    def sample_graph(self, seeds, steps, temperature):
        """seeds int `[B]`, steps int32 scalar, temperature float32 scalar → dict of `_melodies`."""
        pairs = noise.seed_pairs(seeds)
        return self._melodies(self.sampler.sample(pairs, steps), pairs, temperature)

    def infill_graph(self, tokens, real_bars, seeds, steps, temperature):
        """tokens int `[B, 32, 32]`, real_bars bool `[B, 64]` (True = keep the bar), seeds, steps, temperature →
        dict of `_melodies`. Chunks with both bars kept are the diffusion template; the kept bars of other
        chunks are pasted back into the decoded tokens."""
        pairs = noise.seed_pairs(seeds)
        scaled = self.sampler.infill(self.codec.template(tokens), chunks_of_bars(real_bars), pairs, steps)
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

    def _steps(self, steps):
        steps = self.default_steps if steps is None else int(steps)
        if not 1 <= steps <= self.num_steps:
            raise ValueError(f"steps must lie in 1..{self.num_steps} ({self.num_steps} runs DDPM, fewer DDIM), "
                             f"got {steps}")
        return np.int32(steps)

    @staticmethod
    def _temperature(temperature):
        temperature = float(temperature)
        if not np.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature must be a finite number >= 0 (0 = greedy), got {temperature}")
        return np.float32(temperature)

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
        specs = {"seeds": tf.TensorSpec([None], tf.int32), "steps": tf.TensorSpec([], tf.int32),
                 "temperature": tf.TensorSpec([], tf.float32),
                 "tokens": tf.TensorSpec([None, chunks, STEPS_PER_CHUNK], tf.int32),
                 "real_bars": tf.TensorSpec([None, chunks * BARS_PER_CHUNK], tf.bool),
                 "latents": tf.TensorSpec([None, chunks, k], tf.float32)}
        return [specs[name] for name in names]

    def sample(self, seeds, steps=None, temperature=0.0, progress: str | None = "sampling") -> Melodies:
        """One melody per seed. steps: None = the run's default (`sampling.method`: N for DDPM, else
        `ddim_steps`); temperature: the VAE decoder's, 0 = greedy."""
        seeds = self._seeds(seeds)
        outputs = self._batched("sample", self.sample_graph, self._specs("seeds", "steps", "temperature"),
                                [seeds, self._steps(steps), self._temperature(temperature)], progress)
        return self._result(outputs)

    def infill(self, tokens, keep, seeds, steps=None, temperature=0.0,
               progress: str | None = "infilling") -> Melodies:
        """Regenerates what `keep` does not keep of `tokens` `[B, 32, 32]` (or one window `[32, 32]`).

        keep: bool per chunk `[B, 32]` or per bar `[B, 64]` (or without the batch axis), True = keep. Kept bars
        come back token for token; a chunk is generated whenever one of its bars is not kept.
        """
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
            "infill", self.infill_graph, self._specs("tokens", "real_bars", "seeds", "steps", "temperature"),
            [tokens.astype(np.int32), real_bars, seeds, self._steps(steps), self._temperature(temperature)],
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
            if row.all() or not row.reshape(self.chunks, BARS_PER_CHUNK).all(axis=1).any():
                raise ValueError(f"keep of melody {index}: it must keep at least one whole chunk (a template for "
                                 "the diffusion model) and regenerate at least one bar")
        return keep

    def decode(self, latents, temperature=0.0, seeds=None, progress: str | None = "decoding") -> Melodies:
        """Scaled latents `[B, 32, k]` → melodies. seeds (one per melody, default 0): the refill and Gumbel
        noise, as in `sample` with those seeds."""
        latents = np.asarray(latents, np.float32)
        if latents.ndim != 3 or latents.shape[1:] != (self.chunks, self.latent_dim):
            raise ValueError(f"latents must be [batch, {self.chunks}, {self.latent_dim}], got {latents.shape}")
        seeds = self._seeds(np.zeros(len(latents), np.int32) if seeds is None else seeds)
        outputs = self._batched("decode", self.decode_graph, self._specs("latents", "temperature", "seeds"),
                                [latents, self._temperature(temperature), seeds], progress)
        return self._result(outputs)

    def encode(self, tokens):
        """Tokens `[B, 32, 32]` → (mu, sigma) numpy float32 `[B, 32, z_size]`."""
        function = self._function("encode", self.codec.encode, self._specs("tokens"))
        mu, sigma = function(np.asarray(tokens, np.int32))
        return np.asarray(mu), np.asarray(sigma)

    def template(self, tokens):
        """Tokens `[B, 32, 32]` → the scaled infilling template `[B, 32, k]` (rest chunks as zero latents)."""
        return np.asarray(self._function("template", self.codec.template, self._specs("tokens"))(
            np.asarray(tokens, np.int32)))

