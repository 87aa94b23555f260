"""Trains a MusicVAE as Magenta's `music_vae_train` does, resumably (original.md §5.1).

Loss per batch: mean over sequences of the summed per-step cross-entropy, plus β · mean(max(KL − free_bits·ln 2, 0))
with KL(q(z|x) ‖ N(0, I)) in nats and β = (1 − beta_rate^step) · max_beta. z = mu + sigma·ε is sampled.
Scheduled sampling (`sampling_schedule="inverse_sigmoid"`): at each step after the first, each sequence feeds
back its own sample (temperature 1) instead of the target with probability 1 − k / (k + exp(step / k)),
k = sampling_rate. Adam (ε = 1e-8) with lr = (lr0 − lr_min) · decay_rate^step + lr_min; gradients are clipped to
global norm `grad_clip`, and a step whose global norm exceeds `grad_norm_clip_to_zero` is skipped (zero
gradients), as Magenta. Augmentation: each chunk is transposed by a uniform integer in `transpose_range`
semitones, limited so that every note stays in MIDI 21..108 (Magenta drops the notes that leave the range).
`train_precision="bfloat16"` (not Magenta's) runs the step's large matrix products in bfloat16 on float32 variables
(`MusicVAE.training_weights`): 1.4-1.55x per step on an avx512_bf16 CPU (docs/musicvae.md).

Bookkeeping: `tf.train.CheckpointManager` in `WORKDIR/checkpoints` (model, optimizer with its step count, data
position); the data order and every random draw are functions of (seed, step), so a run killed at any point
and restarted continues from the last checkpoint exactly as if it had not stopped. TensorBoard scalars (`symdiff_tf.training.summaries`) in
`WORKDIR/tensorboard`, one JSON line per log in `WORKDIR/train_log.jsonl`, the final model in
`WORKDIR/model.keras`. The data stream is `symdiff_tf.data.stream.training_stream` (shared with the diffusion
trainer); the loop itself is separate because its schedules (β, sampling, lr floor) depend on the step.
"""
from __future__ import annotations

import dataclasses
import json
import math
import pathlib

import keras
import numpy as np
import tensorflow as tf

from symdiff_tf.training import summaries
from symdiff_tf.data.stream import training_stream
from symdiff_tf.melody.chunks import CLASS_FIRST_PITCH as FIRST_NOTE_CLASS
from symdiff_tf.musicvae import build_model
from symdiff_tf.musicvae.compiled import gumbel_noise
from symdiff_tf.musicvae.configs import NUM_CLASSES, MusicVAEConfig
from symdiff_tf.musicvae.reconstruction import reconstruction_counts, reconstruction_scores

LAST_NOTE_CLASS = NUM_CLASSES - 1  # classes 2..89 are note-ons for MIDI 21..108


@dataclasses.dataclass
class TrainOptions:
    """How long and how often; the model's hyperparameters are in `MusicVAEConfig`."""
    steps: int = 1000
    batch_size: int | None = None  # None: the config's batch_size
    seed: int = 0
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    log_every: int = 50
    eval_every: int = 500  # 0: never (evaluation also runs at the end)
    eval_batches: int = 4
    shuffle_buffer: int = 100_000


@keras.saving.register_keras_serializable(package="symdiff_tf")
class MagentaLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) = (learning_rate − min_learning_rate) · decay_rate^step + min_learning_rate (Magenta)."""

    def __init__(self, learning_rate, decay_rate, min_learning_rate):
        self.learning_rate = float(learning_rate)
        self.decay_rate = float(decay_rate)
        self.min_learning_rate = float(min_learning_rate)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        return (self.learning_rate - self.min_learning_rate) * tf.pow(self.decay_rate, step) + self.min_learning_rate

    def get_config(self):
        return {"learning_rate": self.learning_rate, "decay_rate": self.decay_rate,
                "min_learning_rate": self.min_learning_rate}


def kl_beta(config: MusicVAEConfig, step):
    """β = (1 − beta_rate^step) · max_beta."""
    return (1.0 - tf.pow(tf.constant(config.beta_rate, tf.float32), tf.cast(step, tf.float32))) * config.max_beta


def sampling_probability(config: MusicVAEConfig, step):
    """Scheduled-sampling probability at `step` (Magenta's `get_sampling_probability`, training mode)."""
    schedule, rate = config.sampling_schedule, float(config.sampling_rate)
    step = tf.cast(step, tf.float32)
    if not schedule:
        return tf.constant(0.0)
    if schedule == "constant":
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"constant sampling_rate must be in [0, 1], got {rate}")
        return tf.constant(rate)
    if schedule == "inverse_sigmoid":
        if rate < 1.0:
            raise ValueError(f"inverse_sigmoid sampling_rate must be >= 1, got {rate}")
        return 1.0 - rate / (rate + tf.exp(tf.minimum(step / rate, 80.0)))
    raise ValueError(f"unknown sampling_schedule {schedule!r}; expected '', 'constant' or 'inverse_sigmoid'")


def transpose_tokens(tokens, seed, transpose_range):
    """Transposes one chunk `[32]` int32 by a seeded uniform shift in `transpose_range`, limited to keep the
    notes in range (classes 2..89); hold (0) and note-off (1) are unchanged."""
    low, high = transpose_range
    is_note = tokens >= FIRST_NOTE_CLASS
    note_min = tf.reduce_min(tf.where(is_note, tokens, LAST_NOTE_CLASS))
    note_max = tf.reduce_max(tf.where(is_note, tokens, FIRST_NOTE_CLASS))
    shift = tf.random.stateless_uniform([], seed=seed, minval=low, maxval=high + 1, dtype=tf.int32)
    shift = tf.clip_by_value(shift, FIRST_NOTE_CLASS - note_min, LAST_NOTE_CLASS - note_max)
    return tf.where(is_note, tokens + shift, tokens)


FAST_SIGMA_BIAS = -4.0  # softplus(-4) = 0.018


def fast_latent_init(model, seed: int):
    """Re-initialises a fresh model for `latent_init="fast"`: Glorot-uniform kernels for mu and the decoder's
    initial-state layer, sigma's bias at `FAST_SIGMA_BIAS`. (A resumed run overwrites this with its checkpoint.)"""
    glorot = keras.initializers.GlorotUniform(seed=seed)
    for layer in (model.mu_dense, model.z_to_initial_state):
        layer.kernel.assign(glorot(layer.kernel.shape))
    model.sigma_dense.bias.assign(tf.fill(model.sigma_dense.bias.shape, FAST_SIGMA_BIAS))


def kl_divergence(mu, sigma):
    """KL(N(mu, sigma²) ‖ N(0, 1)) summed over the latent dims: `[batch]` nats."""
    return tf.reduce_sum(0.5 * (tf.square(mu) + tf.square(sigma)) - tf.math.log(sigma) - 0.5, axis=-1)


class Trainer:
    """Holds the model, optimizer, checkpoint and compiled steps for one work directory."""

    def __init__(self, config: MusicVAEConfig, workdir, options: TrainOptions):
        self.config, self.options = config, options
        self.workdir = pathlib.Path(workdir)
        self.batch_size = options.batch_size or config.batch_size
        keras.utils.set_random_seed(options.seed)
        self.model = build_model(config)
        if config.latent_init == "fast":
            fast_latent_init(self.model, options.seed)
        self.optimizer = keras.optimizers.Adam(
            MagentaLearningRate(config.learning_rate, config.decay_rate, config.min_learning_rate), epsilon=1e-8)
        self.optimizer.build(self.model.trainable_variables)
        self.data_position = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_position")
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                                              data_position=self.data_position)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.workdir / "checkpoints"),
                                                  max_to_keep=options.keep_checkpoints)
        self.resumed_from = None
        if self.manager.latest_checkpoint:
            self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
            self.resumed_from = int(self.optimizer.iterations)
        self.train_step = tf.function(self._train_step, autograph=False)
        self.eval_step = tf.function(self._eval_step, autograph=False)

    @property
    def step(self) -> int:
        return int(self.optimizer.iterations)

    def _loss(self, tokens, step):
        config, model = self.config, self.model
        seed = tf.stack([tf.constant(self.options.seed, tf.int64), tf.cast(step, tf.int64)])
        seeds = tf.random.experimental.stateless_split(seed, 4)
        weights = model.training_weights(config.train_precision)
        mu, sigma = model.encode_tensors(tokens, weights)
        z = mu + sigma * tf.random.stateless_normal(tf.shape(mu), seed=seeds[0])
        probability = sampling_probability(config, step)
        sample_mask = gumbel = None
        if config.sampling_schedule:
            batch = tf.shape(tokens)[0]
            sample_mask = tf.random.stateless_uniform([batch, config.max_seq_len], seed=seeds[1]) < probability
            gumbel = gumbel_noise([batch, config.max_seq_len, config.num_classes], seeds[2])
        input_dropout = None
        if config.word_dropout > 0:
            input_dropout = tf.random.stateless_uniform(tf.shape(tokens), seed=seeds[3]) < config.word_dropout
        logits, _ = model.run_decoder(z, weights, targets=tokens, sample_mask=sample_mask, gumbel=gumbel,
                                      input_dropout=input_dropout)
        r_loss = tf.reduce_mean(tf.reduce_sum(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tokens, logits=logits), axis=-1))
        kl = kl_divergence(mu, sigma)
        kl_cost = tf.maximum(kl - config.free_bits * math.log(2.0), 0.0)
        beta = kl_beta(config, step)
        loss = r_loss + beta * tf.reduce_mean(kl_cost)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.cast(tf.argmax(logits, -1), tf.int32), tokens), tf.float32))
        return loss, {"loss": loss, "r_loss": r_loss, "kl_bits": tf.reduce_mean(kl) / math.log(2.0),
                      "beta": beta, "sampling_probability": probability, "train_accuracy": accuracy}

    def _train_step(self, tokens):
        step = self.optimizer.iterations
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            loss, metrics = self._loss(tokens, step)
        grads = tape.gradient(loss, variables)
        norm = tf.linalg.global_norm(grads)
        clipped, _ = tf.clip_by_global_norm(grads, self.config.grad_clip, use_norm=norm)
        keep = tf.cast(norm < self.config.grad_norm_clip_to_zero, tf.float32)
        self.optimizer.apply_gradients(zip([g * keep for g in clipped], variables))
        self.data_position.assign_add(tf.cast(tf.shape(tokens)[0], tf.int64))
        metrics["grad_norm"] = norm
        metrics["learning_rate"] = self.optimizer.learning_rate
        return metrics

    def _eval_step(self, tokens):
        """Sums over one batch, decoding from z = mu: teacher-forced right tokens, the greedy (free-running)
        decode's `reconstruction_counts`, and KL in bits."""
        weights = self.model.inference_weights()
        mu, sigma = self.model.encode_tensors(tokens, weights)
        logits, _ = self.model.run_decoder(mu, weights, targets=tokens)
        _, greedy = self.model.run_decoder(mu, weights)
        forced = tf.cast(tf.argmax(logits, -1), tf.int32)
        return {**reconstruction_counts(greedy, tokens),
                "forced_right": tf.reduce_sum(tf.cast(tf.equal(forced, tokens), tf.float32)),
                "kl_bits_sum": tf.reduce_sum(kl_divergence(mu, sigma)) / math.log(2.0)}

    def _train_batches(self, chunks: np.ndarray):
        config, options = self.config, self.options
        windows = tf.data.Dataset.from_tensor_slices(chunks.astype(np.int32))
        stream = training_stream(windows, options.seed, int(self.data_position), options.shuffle_buffer)

        def augment(index, tokens):
            return transpose_tokens(tokens, tf.stack([tf.constant(options.seed + 1, tf.int64), index]),
                                    config.transpose_range)

        return iter(stream.map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                    .batch(self.batch_size, drop_remainder=True).prefetch(2))

    def evaluate(self, chunks: np.ndarray) -> dict:
        """Reconstruction of up to `eval_batches` batches of `chunks` from z = mu: `eval_teacher_forced_accuracy`,
        greedy `eval_sampled_accuracy`, `eval_note_precision/recall/f1`, `eval_exact_chunks`, `eval_kl_bits`."""
        totals = {}
        for start in range(0, min(len(chunks), self.options.eval_batches * self.batch_size), self.batch_size):
            values = self.eval_step(tf.constant(chunks[start:start + self.batch_size], tf.int32))
            for key, value in values.items():
                totals[key] = totals.get(key, 0.0) + float(value)
        if not totals:
            return {}
        scores = reconstruction_scores(totals)
        return {"eval_teacher_forced_accuracy": totals["forced_right"] / totals["tokens"],
                "eval_sampled_accuracy": scores.pop("token_accuracy"),
                **{f"eval_{key}": value for key, value in scores.items()},
                "eval_kl_bits": totals["kl_bits_sum"] / totals["chunks"]}

    def fit(self, train_chunks: np.ndarray, eval_chunks: np.ndarray | None = None, progress: bool = True):
        """Trains to `options.steps` total steps; returns the logged records of this call."""
        options = self.options
        if len(train_chunks) < self.batch_size:
            raise ValueError(f"{len(train_chunks)} training chunks are fewer than one batch of {self.batch_size}")
        if int(self.data_position) != self.step * self.batch_size:
            raise ValueError(f"{self.workdir}: checkpoint data position {int(self.data_position)} does not match "
                             f"step {self.step} x batch {self.batch_size}; was the batch size changed?")
        batches = self._train_batches(train_chunks)
        writer = tf.summary.create_file_writer(str(self.workdir / "tensorboard"))
        log_path = self.workdir / "train_log.jsonl"
        self.workdir.mkdir(parents=True, exist_ok=True)
        records = []
        steps = range(self.step, options.steps)
        if progress:
            from tqdm import tqdm
            steps = tqdm(steps, initial=self.step, total=options.steps, desc="train-vae", unit="step")
        for _ in steps:
            metrics = self.train_step(next(batches))
            done = self.step
            record = None
            if done % options.log_every == 0 or done == options.steps:
                record = {"step": done, **{k: float(v) for k, v in metrics.items()}}
                if not math.isfinite(record["loss"]):
                    raise FloatingPointError(f"loss became {record['loss']} at step {done}")
            if eval_chunks is not None and len(eval_chunks) and (
                    (options.eval_every and done % options.eval_every == 0) or done == options.steps):
                record = {**(record or {"step": done}), **self.evaluate(eval_chunks)}
            if record is not None:
                with writer.as_default():
                    for key, value in record.items():
                        if key != "step":
                            summaries.scalar(key, value, done)
                with log_path.open("a", encoding="utf-8") as log_file:
                    log_file.write(json.dumps(record) + "\n")
                records.append(record)
            if done % options.checkpoint_every == 0 or done == options.steps:
                self.manager.save(checkpoint_number=done)
        writer.flush()
        return records

    def save_model(self, path=None) -> pathlib.Path:
        path = pathlib.Path(path or self.workdir / "model.keras")
        self.model.save(path)
        return path
