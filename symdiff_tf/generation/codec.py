"""Between the diffusion model's scaled latents and MusicVAE tokens, as graph ops shared by the library's
generation path and the SavedModel.

decode: scaled latents `[B, 32, k]` → unscaled kept dims, the dropped dims refilled (`LatentScaler.inverse`'s
rule, with the melody's own seeded noise) → `[B, 32, z_size]` → MusicVAE decoder chunk by chunk → tokens
`[B, 32, 32]`. encode / template: tokens `[B, 32, 32]` → encoder (mu, sigma) `[B, 32, z_size]`; the template is
mu's kept dims, scaled, with rest chunks (`tokens.rest_flags`) as the run's training data held them (docs/data.md):
the zero latent (the original), or encoded like any chunk (a dataset built with `encode_rests`).
"""
import numpy as np
import tensorflow as tf

from symdiff_tf.data.latent_config import FILLS
from symdiff_tf.models_common import noise
from symdiff_tf.generation.tokens import rest_flags
from symdiff_tf.musicvae.compiled import gumbel_noise


class LatentCodec:
    """Args: vae: a `MusicVAE`; scaler: the run's `LatentScaler`; fill: "noise" (N(0, 1), the original) or
    "zeros", what goes into the dropped dims (`LatentDataConfig.fill`); zero_rests: rest chunks of a template
    are the zero latent (True, the original's data) or the encoder's mu like any chunk (False: data built with
    `encode_rests`)."""

    def __init__(self, vae, scaler, fill: str = "noise", zero_rests: bool = True):
        if scaler.z_size != vae.z_size:
            raise ValueError(f"the latent scaling is for {scaler.z_size}-d latents, the MusicVAE's z_size is "
                             f"{vae.z_size}: use the VAE that encoded the diffusion model's training data")
        if fill not in FILLS:
            raise ValueError(f"fill={fill!r}: expected one of {FILLS}")
        self.vae, self.scaler, self.fill, self.zero_rests = vae, scaler, fill, bool(zero_rests)
        kept = np.zeros(vae.z_size, bool)
        kept[list(scaler.kept_dims)] = True
        self._is_kept = kept
        self._kept_position = np.maximum(np.cumsum(kept) - 1, 0).astype(np.int32)  # column of dim d among kept

        # one graph function each for the 32-step decoder and encoder, which the graphs that call them hold once
        @tf.function(autograph=False)
        def decode_chunks(z, gumbel, temperature):
            return vae.run_decoder(z, vae.inference_weights(), gumbel=gumbel, temperature=temperature)[1]

        @tf.function(autograph=False)
        def encode_chunks(tokens):
            return vae.encode_tensors(tokens, vae.inference_weights())

        self._decode_chunks, self._encode_chunks = decode_chunks, encode_chunks

    def refill(self, scaled, pairs):
        """Scaled latents `[B, L, k]`, seed pairs `[B, 2]` → `[B, L, z_size]` for the decoder."""
        unscaled = self.scaler.unscale(tf.cast(scaled, tf.float32))
        shape = [scaled.shape[1], self.vae.z_size]
        if self.fill == "noise":
            dropped = noise.normal(pairs, noise.REFILL, 0, shape)
        else:
            dropped = tf.zeros(tf.concat([tf.shape(scaled)[:1], shape], axis=0))
        return tf.where(self._is_kept, tf.gather(unscaled, self._kept_position, axis=2), dropped)

    def decode(self, full, pairs, temperature):
        """Latents `[B, L, z_size]` → tokens int32 `[B, L, 32]`: greedy at temperature 0, else sampled from
        softmax(logits / temperature) with the melody's Gumbel noise (`MusicVAE.run_decoder`)."""
        vae = self.vae
        batch, chunks = tf.shape(full)[0], full.shape[1]
        shape = [chunks, vae.max_seq_len, vae.num_classes]
        gumbel = noise.per_melody(pairs, lambda pair: gumbel_noise(shape, noise.key(pair, noise.GUMBEL)))
        tokens = self._decode_chunks(tf.reshape(full, [-1, vae.z_size]),
                                     tf.reshape(gumbel, [-1, vae.max_seq_len, vae.num_classes]), temperature)
        return tf.reshape(tokens, [batch, chunks, vae.max_seq_len])

    def encode(self, tokens):
        """Tokens `[B, L, 32]` int → (mu, sigma) float32 `[B, L, z_size]`."""
        vae = self.vae
        batch, chunks = tf.shape(tokens)[0], tokens.shape[1]
        mu, sigma = self._encode_chunks(tf.reshape(tf.cast(tokens, tf.int32), [-1, vae.max_seq_len]))
        return (tf.reshape(mu, [batch, chunks, vae.z_size]), tf.reshape(sigma, [batch, chunks, vae.z_size]))

    def template(self, tokens):
        """Tokens `[B, L, 32]` → the scaled latents `[B, L, k]` the diffusion model was trained on: mu's kept
        dims (rest chunks zero before scaling, unless `zero_rests` is off)."""
        mu, _ = self.encode(tokens)
        kept = tf.gather(mu, list(self.scaler.kept_dims), axis=2)
        if self.zero_rests:
            kept = tf.where(rest_flags(tokens)[:, :, None], 0.0, kept)
        return tf.cast(self.scaler.scale(kept), tf.float32)
