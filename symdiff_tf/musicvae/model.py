"""The 2-bar melody MusicVAE (Roberts et al. 2018) as a Keras 3 model, weight-compatible with Magenta's
`BidirectionalLstmEncoder` + `CategoricalLstmDecoder` (original.md §5).

Shapes: tokens `[batch, 32]` int class indices 0..89; latents `[batch, z_size]`; logits `[batch, 32, 90]`.

- Encoder: a stack of bidirectional LSTM layers over the one-hot chunk; each layer's input is the previous
  layer's forward and backward outputs (in input order), as `stack_bidirectional_dynamic_rnn`. The final h of
  the last layer's two directions, concatenated, feeds `mu` (dense) and `sigma` (softplus(dense)).
- Decoder: stacked LSTMs; initial states tanh(dense(z)) split in Magenta's [c0, h0, c1, h1, ...] order; the
  input at step t is the one-hot token of step t-1 (zeros at t=0) joined with z; logits = dense(top h).

The LSTM weights live in `keras.layers.LSTMCell` sublayers (Keras gate order i, f, c, o; the forget-gate bias
holds Magenta's runtime +1). The recurrences are written out here with keras ops instead of `keras.layers.RNN`:
a one-hot input times a kernel is a row gather, and z's share of the decoder's first kernel is computed once
per sequence rather than at every step.

`encode` / `decode` (numpy in, numpy out) validate their inputs and run one compiled function for the whole
sequence (`symdiff_tf.musicvae.compiled`); `precision="bfloat16"` runs the big matrix products in bfloat16
(cell state, gate sums and the output projection in float32).
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from symdiff_tf.musicvae.configs import NUM_CLASSES, SEQ_LEN

PRECISIONS = ("float32", "bfloat16")


def _check_precision(precision):
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def _lstm_update(gates, c):
    """One LSTM state update from pre-activation gates `[batch, 4·units]` in Keras order i, f, c, o.

    `c` may be None (a zero state). Returns (c, h), `[batch, units]` each.
    """
    i, f, g, o = ops.split(gates, 4, axis=-1)
    new_c = ops.sigmoid(i) * ops.tanh(g)
    if c is not None:
        new_c = new_c + ops.sigmoid(f) * c
    return new_c, ops.sigmoid(o) * ops.tanh(new_c)


def _transposed_bfloat16(kernel):
    """A kernel `[in, out]` as the bfloat16 copy `_matmul` expects: `[out, in]`."""
    return tf.transpose(tf.cast(tf.convert_to_tensor(kernel), tf.bfloat16))


def _matmul(x, w):
    """x `[..., in]` times a kernel, result float32 `[..., out]`.

    A float32 kernel is `[in, out]`; a bfloat16 one is `[out, in]` (from `_transposed_bfloat16`) and the product
    runs in bfloat16: oneDNN's bfloat16 products with the kernel transposed were 1.1-1.4x faster than with it
    untransposed at every batch size measured here (1 to 1024 rows), float32 ones were not.
    """
    if w.dtype == "float32":
        return ops.matmul(x, w)
    rows = ops.reshape(ops.cast(x, w.dtype), (-1, x.shape[-1]))
    y = ops.cast(tf.linalg.matmul(rows, w, transpose_b=True), "float32")
    return ops.reshape(y, (*ops.shape(x)[:-1], w.shape[0]))


class _InferenceCache:
    """Per-precision weights and compiled functions; a plain object, so Keras does not track or save it."""

    def __init__(self):
        self.weights = {}
        self.functions = {}


@keras.saving.register_keras_serializable(package="symdiff_tf")
class MusicVAE(keras.Model):
    """MusicVAE with a bidirectional LSTM encoder and a categorical LSTM decoder.

    Args:
        z_size: latent size.
        enc_rnn_size: units per direction of each stacked bidirectional encoder layer.
        dec_rnn_size: units of each stacked decoder LSTM layer.
        max_seq_len: steps per chunk (32 = 2 bars of sixteenths).
        num_classes: token vocabulary (90).
        config_name: the `symdiff_tf.musicvae.configs` name this model was built from (informational).

    `model(tokens)` returns teacher-forced logits `[batch, 32, 90]` decoded from z = mu.
    """

    def __init__(self, z_size, enc_rnn_size, dec_rnn_size, max_seq_len=SEQ_LEN, num_classes=NUM_CLASSES,
                 config_name=None, **kwargs):
        super().__init__(**kwargs)
        self.z_size = int(z_size)
        self.enc_rnn_size = [int(u) for u in enc_rnn_size]
        self.dec_rnn_size = [int(u) for u in dec_rnn_size]
        self.max_seq_len = int(max_seq_len)
        self.num_classes = int(num_classes)
        self.config_name = config_name
        if not self.enc_rnn_size or not self.dec_rnn_size:
            raise ValueError("MusicVAE needs at least one encoder and one decoder layer")

        def cell(units, name):
            # glorot_uniform for both kernels, as the TF1 default initializer of Magenta's LSTMBlockCell (and no
            # QR decompositions of [4096, 8192] matrices for an orthogonal init when importing weights)
            return keras.layers.LSTMCell(units, recurrent_activation="sigmoid", unit_forget_bias=True,
                                         recurrent_initializer="glorot_uniform", name=name)

        small_normal = keras.initializers.RandomNormal(stddev=0.001)  # Magenta's init for these three
        self.encoder_fw = [cell(u, f"encoder_fw_{i}") for i, u in enumerate(self.enc_rnn_size)]
        self.encoder_bw = [cell(u, f"encoder_bw_{i}") for i, u in enumerate(self.enc_rnn_size)]
        self.mu_dense = keras.layers.Dense(self.z_size, kernel_initializer=small_normal, name="mu")
        self.sigma_dense = keras.layers.Dense(self.z_size, kernel_initializer=small_normal, name="sigma")
        self.z_to_initial_state = keras.layers.Dense(
            2 * sum(self.dec_rnn_size), kernel_initializer=small_normal, name="z_to_initial_state")
        self.decoder_cells = [cell(u, f"decoder_{i}") for i, u in enumerate(self.dec_rnn_size)]
        self.output_projection = keras.layers.Dense(self.num_classes, name="output_projection")

        input_size = self.num_classes
        for units, fw, bw in zip(self.enc_rnn_size, self.encoder_fw, self.encoder_bw):
            fw.build((None, input_size))
            bw.build((None, input_size))
            input_size = 2 * units
        self.mu_dense.build((None, input_size))
        self.sigma_dense.build((None, input_size))
        self.z_to_initial_state.build((None, self.z_size))
        input_size = self.num_classes + self.z_size
        for units, layer in zip(self.dec_rnn_size, self.decoder_cells):
            layer.build((None, input_size))
            input_size = units
        self.output_projection.build((None, input_size))
        self.built = True
        self._cache = _InferenceCache()

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable,
            "z_size": self.z_size, "enc_rnn_size": list(self.enc_rnn_size),
            "dec_rnn_size": list(self.dec_rnn_size), "max_seq_len": self.max_seq_len,
            "num_classes": self.num_classes, "config_name": self.config_name,
        }

    # ---- weights as plain tensors, per precision -------------------------------------------------------
    def inference_weights(self, precision="float32"):
        """The weights the recurrences use: float32 variables, or bfloat16 copies of the large matrices.

        bfloat16 copies are made once and cached: call `clear_inference_cache()` after changing the weights.
        """
        if _check_precision(precision) == "float32":
            return self._weights(lambda v: v)
        if precision not in self._cache.weights:
            self._cache.weights[precision] = self._weights(_transposed_bfloat16)
        return self._cache.weights[precision]

    def training_weights(self, precision="float32"):
        """The weights for a training step, not cached, so that gradients flow back to the float32 variables:
        with "bfloat16" the large matrices are cast (and transposed) inside the step, the products run in
        bfloat16 and the cast's gradient returns to the float32 variables (mixed precision training)."""
        if _check_precision(precision) == "float32":
            return self._weights(lambda v: v)
        return self._weights(_transposed_bfloat16)

    def clear_inference_cache(self):
        self._cache = _InferenceCache()

    def _weights(self, big):
        """Weights grouped for the recurrences; `big` converts the large matrices (the recurrent kernels and
        the kernels of stacked layers); biases and gathered one-hot rows stay float32."""
        num_classes = self.num_classes
        encoder = []
        for level, (fw, bw) in enumerate(zip(self.encoder_fw, self.encoder_bw)):
            encoder.append({
                name: (c.kernel if level == 0 else big(c.kernel), big(c.recurrent_kernel), c.bias)
                for name, c in (("fw", fw), ("bw", bw))})
        first = self.decoder_cells[0]
        decoder = [{
            # row 0 is the zero "previous token" of step 0; row 1 + k is token k
            "token_rows": ops.pad(first.kernel[:num_classes], [[1, 0], [0, 0]]),
            "z_kernel": first.kernel[num_classes:],
            "recurrent": big(first.recurrent_kernel), "bias": first.bias,
        }]
        for layer in self.decoder_cells[1:]:
            decoder.append({"kernel": big(layer.kernel), "recurrent": big(layer.recurrent_kernel),
                            "bias": layer.bias})
        return {
            "encoder": encoder, "decoder": decoder,
            "mu": (self.mu_dense.kernel, self.mu_dense.bias),
            "sigma": (self.sigma_dense.kernel, self.sigma_dense.bias),
            "initial_state": (self.z_to_initial_state.kernel, self.z_to_initial_state.bias),
            # float32 even in bfloat16 mode: it is 1 % of the work and decides the argmax
            "output": (self.output_projection.kernel, self.output_projection.bias),
        }

    # ---- the math (keras ops; eager, in tf.function, or under GradientTape) -----------------------------
    def encode_tensors(self, tokens, weights=None):
        """tokens `[batch, 32]` int -> (mu, sigma) `[batch, z_size]` float32."""
        weights = weights or self.inference_weights()
        steps = tokens.shape[1]
        layer_input = None
        for level, layer in enumerate(weights["encoder"]):
            outputs, finals = [], []
            for direction in ("fw", "bw"):
                kernel, recurrent, bias = layer[direction]
                if level == 0:  # one-hot · kernel = a row gather, done per step (a [B, 32, 4u] block is 1 GB)
                    def projected(t, kernel=kernel, bias=bias):
                        return ops.take(kernel, tokens[:, t], axis=0) + bias
                else:
                    inputs = _matmul(layer_input, kernel) + bias

                    def projected(t, inputs=inputs):
                        return inputs[:, t]
                order = range(steps) if direction == "fw" else range(steps - 1, -1, -1)
                c = h = None
                hs = [None] * steps
                for t in order:
                    gates = projected(t) if h is None else projected(t) + _matmul(h, recurrent)
                    c, h = _lstm_update(gates, c)
                    hs[t] = h
                outputs.append(ops.stack(hs, axis=1))
                finals.append(h)
            layer_input = ops.concatenate(outputs, axis=-1)
        encoded = ops.concatenate(finals, axis=-1)
        mu = ops.matmul(encoded, weights["mu"][0]) + weights["mu"][1]
        sigma = ops.softplus(ops.matmul(encoded, weights["sigma"][0]) + weights["sigma"][1])
        return mu, sigma

    def initial_states(self, z, weights=None):
        """z `[batch, z_size]` -> [(c, h)] per decoder layer, from tanh(dense(z)) in [c0, h0, c1, h1, ...] order."""
        weights = weights or self.inference_weights()
        kernel, bias = weights["initial_state"]
        flat = ops.tanh(ops.matmul(z, kernel) + bias)
        bounds = np.cumsum([u for u in self.dec_rnn_size for _ in range(2)])[:-1].tolist()
        parts = ops.split(flat, bounds, axis=-1)
        return [(parts[2 * k], parts[2 * k + 1]) for k in range(len(self.dec_rnn_size))]

    def run_decoder(self, z, weights=None, targets=None, sample_mask=None, gumbel=None, temperature=1.0,
                    input_dropout=None):
        """Runs the decoder for `max_seq_len` steps; returns (logits `[batch, T, 90]`, tokens `[batch, T]`).

        - targets only: teacher forcing (step t's input is targets[:, t-1]); tokens are the argmaxes.
        - targets and sample_mask `[batch, T]` bool: scheduled sampling — where the mask is set, step t+1's
          input is this step's sample instead of the target.
        - no targets: free running; each step's token (greedy, or sampled when `gumbel` is given) is the next
          input.
        - input_dropout `[batch, T]` bool (training only, "word dropout", Bowman et al. 2016): where set, step
          t+1 gets the zero input of step 0 instead of a token, so the decoder must read the melody from z.
        Sampling is Gumbel-max: argmax(logits + temperature · gumbel), gumbel `[batch, T, 90]` standard Gumbel
        noise, which draws from softmax(logits / temperature).
        """
        weights = weights or self.inference_weights()
        states = self.initial_states(z, weights)
        first = weights["decoder"][0]
        z_part = ops.matmul(z, first["z_kernel"]) + first["bias"]  # constant over the steps
        out_kernel, out_bias = weights["output"]
        previous = None  # previous token index; None = zero input at step 0
        all_logits, all_tokens = [], []
        for t in range(self.max_seq_len):
            c, h = states[0]
            gates = z_part + _matmul(h, first["recurrent"])
            if previous is not None:
                gates = gates + ops.take(first["token_rows"], previous + 1, axis=0)
            new_states = [_lstm_update(gates, c)]
            for layer, (c, h) in zip(weights["decoder"][1:], states[1:]):
                gates = _matmul(new_states[-1][1], layer["kernel"]) + _matmul(h, layer["recurrent"]) + layer["bias"]
                new_states.append(_lstm_update(gates, c))
            states = new_states
            logits = _matmul(states[-1][1], out_kernel) + out_bias
            scores = logits if gumbel is None else logits + temperature * gumbel[:, t]
            token = ops.cast(ops.argmax(scores, axis=-1), "int32")
            all_logits.append(logits)
            all_tokens.append(token)
            if targets is None:
                previous = token
            elif sample_mask is None:
                previous = targets[:, t]
            else:
                previous = ops.where(sample_mask[:, t], token, targets[:, t])
            if input_dropout is not None:
                previous = ops.where(input_dropout[:, t], -1, previous)  # -1 + 1 = row 0, the zero input
        return ops.stack(all_logits, axis=1), ops.stack(all_tokens, axis=1)

    def call(self, tokens):
        tokens = ops.cast(tokens, "int32")
        mu, _ = self.encode_tensors(tokens)
        logits, _ = self.run_decoder(mu, targets=tokens)
        return logits

    # ---- the public numpy interface ---------------------------------------------------------------------
    def encode(self, tokens, precision="float32"):
        """tokens `[batch, 32]` int class indices 0..89 (or one-hot `[batch, 32, 90]`) -> (mu, sigma),
        numpy float32 `[batch, z_size]` each."""
        from symdiff_tf.musicvae import compiled

        tokens = check_tokens(tokens, self.max_seq_len, self.num_classes)
        mu, sigma = compiled.encode_function(self, precision)(tokens)
        return np.asarray(mu), np.asarray(sigma)

    def decode(self, z, temperature=0.0, seed=None, precision="float32"):
        """z `[batch, z_size]` -> tokens `[batch, 32]` numpy int32.

        temperature 0.0 is greedy (argmax at each step); above 0 samples from softmax(logits / temperature),
        reproducibly for an int `seed` (None draws a fresh seed). `precision="bfloat16"` runs the large
        products in bfloat16 (faster at every batch size; 99.5–100 % of greedy tokens agreed with float32 on
        random big-model weights, 98.9 % on a briefly trained small model: docs/musicvae.md).
        """
        from symdiff_tf.musicvae import compiled

        z = check_latents(z, self.z_size)
        temperature = float(temperature)
        if not np.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
        if temperature == 0.0:
            return np.asarray(compiled.greedy_function(self, precision)(z))
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31 - 1))
        return np.asarray(compiled.sample_function(self, precision)(z, np.float32(temperature),
                                                                     np.array([int(seed), 0], np.int64)))

    def teacher_forced_logits(self, tokens, z, precision="float32"):
        """Logits `[batch, 32, 90]` numpy float32 of the decoder fed `tokens` (shifted right) with latents z."""
        from symdiff_tf.musicvae import compiled

        tokens = check_tokens(tokens, self.max_seq_len, self.num_classes)
        z = check_latents(z, self.z_size)
        if len(z) != len(tokens):
            raise ValueError(f"tokens and z must have the same batch size, got {len(tokens)} and {len(z)}")
        return np.asarray(compiled.teacher_forced_function(self, precision)(tokens, z))


def check_tokens(tokens, seq_len=SEQ_LEN, num_classes=NUM_CLASSES) -> np.ndarray:
    """Validates token chunks: `[batch, seq_len]` integers in [0, num_classes) or exact one-hot
    `[batch, seq_len, num_classes]`. Returns int32 `[batch, seq_len]`; raises ValueError saying what was expected."""
    array = np.asarray(tokens)
    expected = f"expected tokens [batch, {seq_len}] of integer class indices 0..{num_classes - 1}"
    if array.ndim == 3:
        if array.shape[1:] != (seq_len, num_classes):
            raise ValueError(f"{expected} (or one-hot [batch, {seq_len}, {num_classes}]); got shape "
                             f"{list(array.shape)}: depth {array.shape[-1]} instead of {num_classes}?")
        if not (np.all((array == 0) | (array == 1)) and np.all(array.sum(-1) == 1)):
            raise ValueError(f"one-hot tokens [batch, {seq_len}, {num_classes}] must hold exactly one 1 per step")
        return array.argmax(-1).astype(np.int32)
    if array.ndim != 2 or array.shape[1] != seq_len or array.shape[0] == 0:
        raise ValueError(f"{expected}; got shape {list(array.shape)}")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{expected}; got dtype {array.dtype} (convert with .astype(int) if these are indices)")
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= num_classes:
        raise ValueError(f"{expected}; got values in [{low}, {high}]")
    return array.astype(np.int32)


def check_latents(z, z_size) -> np.ndarray:
    """Validates latents: finite floats `[batch, z_size]`. Returns float32; raises ValueError otherwise."""
    array = np.asarray(z)
    if array.ndim != 2 or array.shape[1] != z_size or array.shape[0] == 0:
        raise ValueError(f"expected latents z [batch, {z_size}]; got shape {list(array.shape)}")
    if not np.issubdtype(array.dtype, np.floating) and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"expected float latents z [batch, {z_size}]; got dtype {array.dtype}")
    array = array.astype(np.float32)
    bad = ~np.isfinite(array)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(f"latents z contain NaN or infinite values in {len(rows)} row(s), first rows "
                         f"{rows[:5].tolist()}")
    return array
