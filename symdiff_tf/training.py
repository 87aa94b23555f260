"""A generic, resumable training loop under `tf.distribute` for any model that gives a per-example loss.

The seam is `TrainingTask` (see `symdiff_tf.models` for the registry that builds one from a config section):
- `model`: the Keras model whose trainable weights are optimised (built, i.e. it has its weights);
- `prepare_example(window, seed)`: runs inside tf.data on one `[32, k]` float32 window with a stateless seed
  `[2]` int64 unique to that example (its position in the training stream), and returns a dict of tensors. All
  randomness of the loss (noise, noise level, ...) belongs here, so a given example has the same loss however
  the global batch is split over replicas and workers, and after a resume;
- `per_example_loss(features, training)`: features batched per replica → `[per_replica_batch]` float32;
- `sample_for_summary(num_samples, seed)`: `[num_samples, 32, k]` numpy samples for TensorBoard, or None.

What the loop does: Adam with global-norm clipping (over the all-reduced gradients), stepped exponential
learning-rate decay, the loss averaged over the *global* batch, optional EMA of the weights and mixed
precision, `tf.train.CheckpointManager` with resume at the same step and data position, TensorBoard scalars and
images, and `train_log.jsonl` (one line per logged step) in the work directory.
"""
import contextlib
import dataclasses
import json
import logging
import os
import pathlib
import shutil
import typing

import keras
import numpy as np
import tensorflow as tf
import yaml

from symdiff_tf import summaries
from symdiff_tf.adam import Adam
from symdiff_tf.distribute import is_chief
from symdiff_tf.train_config import TrainConfig

logger = logging.getLogger(__name__)
MIXED_PRECISION = {"none": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
VALIDATION_SEED_OFFSET = 1_000_003  # validation noise comes from a seed stream disjoint from training


class TrainingTask(typing.Protocol):
    model: keras.Model

    def prepare_example(self, window: tf.Tensor, seed: tf.Tensor) -> dict: ...

    def per_example_loss(self, features: dict, training: bool) -> tf.Tensor: ...

    def sample_for_summary(self, num_samples: int, seed: int) -> np.ndarray | None: ...


def learning_rate_schedule(config: TrainConfig) -> keras.optimizers.schedules.LearningRateSchedule:
    """lr(step) = learning_rate · lr_decay_rate^floor(step / lr_decay_steps), step = updates done so far.

    This equals the original's `lr · γ^(ceil(s / interval) − 1)` with its 1-based step s = step + 1.
    """
    return keras.optimizers.schedules.ExponentialDecay(
        config.learning_rate, config.lr_decay_steps, config.lr_decay_rate, staircase=True)


IN_MEMORY_LIMIT_BYTES = 256 << 20  # held as a constant of the input pipeline's graph


def dataset_size(dataset: tf.data.Dataset) -> int:
    """Number of elements of a finite dataset; a full pass when tf.data does not know it (negative when
    infinite)."""
    size = int(dataset.cardinality())
    if size == tf.data.UNKNOWN_CARDINALITY:
        size = int(dataset.reduce(np.int64(0), lambda count, _: count + 1))
    return size


def training_stream(windows: tf.data.Dataset, seed: int, start_index: int, shuffle_buffer: int) -> tf.data.Dataset:
    """The endless, deterministic stream of `(global_index, window)` from element `start_index` on.

    Data up to 256 MiB is held in memory and every epoch is an exact permutation drawn statelessly from
    (`seed`, epoch), so resuming at any position costs nothing. Larger data is shuffled with a buffer of
    `shuffle_buffer` (fixed seed, reshuffled each epoch) and resuming skips `start_index` elements.
    `windows` must be finite with a fixed order.
    """
    epoch_size = dataset_size(windows)
    if epoch_size <= 0:
        raise ValueError("the training data is empty (or infinite): expected a finite dataset of windows")
    element_bytes = int(np.prod(windows.element_spec.shape)) * windows.element_spec.dtype.size
    endless = tf.data.Dataset.range(int(start_index), np.iinfo(np.int64).max)
    if epoch_size * element_bytes <= IN_MEMORY_LIMIT_BYTES:
        array = windows.batch(epoch_size).get_single_element()

        def fetch(index):
            epoch, position = index // epoch_size, index % epoch_size
            shuffled = tf.random.experimental.index_shuffle(
                position, tf.stack([np.int64(seed), epoch]), epoch_size - 1)
            return index, tf.gather(array, shuffled)

        return endless.map(fetch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    shuffled = windows.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    return tf.data.Dataset.zip(endless, shuffled.skip(int(start_index)))


def _features(task, stream, seed, global_batch):
    def prepare(index, window):
        return task.prepare_example(window, tf.stack([tf.constant(seed, tf.int64), index]))

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    return (stream.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .batch(global_batch, drop_remainder=True).prefetch(2).with_options(options))


def validation_dataset(task, windows, config: TrainConfig) -> tf.data.Dataset:
    """The first `eval_batches` global batches of `windows`, with fixed per-example noise."""
    return _features(task, windows.enumerate(), config.seed + VALIDATION_SEED_OFFSET, config.batch_size).take(
        config.eval_batches)


def latent_heatmap(samples: np.ndarray) -> np.ndarray:
    """Latents `[n, 32, k]` in about [−1, 1] → grey images `[n, k, 32, 1]` in [0, 1] (chunks along x)."""
    images = (np.clip(np.asarray(samples, np.float32), -1.0, 1.0) + 1.0) / 2.0
    return np.transpose(images, (0, 2, 1))[..., None]


def _save_resolved_config(workdir: pathlib.Path, resolved_config: dict) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(resolved_config, sort_keys=False), encoding="utf-8")


@contextlib.contextmanager
def dtype_policy(precision: str):
    """Keras's global dtype policy set to `MIXED_PRECISION[precision]` inside the block, restored after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(MIXED_PRECISION[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@dataclasses.dataclass
class TrainState:
    """What a checkpoint holds besides the model: the optimizer (its step counter is the global step), the
    data position (examples consumed) and the dynamic loss scale of float16 training."""
    optimizer: Adam
    data_position: tf.Variable
    loss_scale: tf.Variable
    finite_steps: tf.Variable
    checkpoint: tf.train.Checkpoint


def build_state(build_task, config: TrainConfig, strategy) -> tuple[TrainingTask, TrainState]:
    """Builds the task under the configured dtype policy and its training state, inside `strategy.scope()`."""
    with dtype_policy(config.mixed_precision):
        keras.utils.set_random_seed(config.seed)
        with strategy.scope():
            task = build_task()
            optimizer = Adam(task.model.trainable_variables, learning_rate_schedule(config), config.adam_beta_1,
                             config.adam_beta_2, config.adam_epsilon, config.ema_decay if config.ema else None)
            data_position = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_position")
            loss_scale = tf.Variable(2.0 ** 15 if config.mixed_precision == "float16" else 1.0, trainable=False,
                                     name="loss_scale")
            finite_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="finite_steps")
            checkpoint = tf.train.Checkpoint(model=task.model, optimizer=optimizer, data_position=data_position,
                                             loss_scale=loss_scale, finite_steps=finite_steps)
    return task, TrainState(optimizer, data_position, loss_scale, finite_steps, checkpoint)


def build_train_step(task, state: TrainState, config: TrainConfig, strategy, jit_compile: bool = False):
    """The compiled training step: distributed batch → (loss, grad_norm), both global.

    Per replica: loss averaged over the global batch, gradients all-reduced, global norm clipped. Then one Adam
    update in cross-replica context (skipped, with the loss scale halved, on float16 overflow).
    """
    global_batch = config.batch_size
    use_loss_scale = config.mixed_precision == "float16"
    model, optimizer, loss_scale, finite_steps = task.model, state.optimizer, state.loss_scale, state.finite_steps

    def replica_step(features):
        with tf.GradientTape() as tape:
            per_example = task.per_example_loss(features, training=True)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
            scaled_loss = loss * loss_scale if use_loss_scale else loss
        grads = tape.gradient(scaled_loss, model.trainable_variables)
        grads = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, grads)
        if use_loss_scale:
            grads = [g / loss_scale for g in grads]
        grad_norm = tf.linalg.global_norm(grads)
        if config.grad_clip_norm > 0:
            grads, _ = tf.clip_by_global_norm(grads, config.grad_clip_norm, use_norm=grad_norm)
        return loss, grad_norm, grads

    def apply(grads):
        with strategy.scope():
            optimizer.apply(grads)
        return tf.constant(True)

    @tf.function(jit_compile=jit_compile)
    def train_step(dist_features):
        loss, grad_norm, grads = strategy.run(replica_step, args=(dist_features,))
        loss = strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)
        grad_norm = strategy.reduce(tf.distribute.ReduceOp.MEAN, grad_norm, axis=None)  # same on all replicas
        if use_loss_scale:  # dynamic loss scaling: skip and halve on overflow, double after 2000 good steps
            finite = tf.math.is_finite(grad_norm)
            tf.cond(finite, lambda: apply(grads), lambda: tf.constant(False))
            finite_steps.assign(tf.where(finite, finite_steps + 1, 0))
            grow = finite_steps >= 2000
            loss_scale.assign(tf.where(finite, tf.where(grow, loss_scale * 2.0, loss_scale), loss_scale / 2.0))
            finite_steps.assign(tf.where(grow, tf.zeros_like(finite_steps), finite_steps))
        else:
            apply(grads)
        state.data_position.assign_add(global_batch)
        return loss, grad_norm

    return train_step


def train(build_task: typing.Callable[[], TrainingTask], train_windows: tf.data.Dataset, config: TrainConfig,
          workdir, strategy: tf.distribute.Strategy | None = None, val_windows: tf.data.Dataset | None = None,
          resolved_config: dict | None = None, render_samples=latent_heatmap, max_steps: int | None = None,
          progress: bool = True) -> list[dict]:
    """Trains until `max_steps` (default `config.max_steps`) optimizer steps, resuming from `workdir`.

    Args:
        build_task: builds the task (and its model); called inside `strategy.scope()` after the dtype policy
            is set.
        train_windows / val_windows: finite datasets of `[32, k]` float32 windows (`symdiff_tf.data`).
        config: `TrainConfig`; `batch_size` is the global batch.
        workdir: checkpoints in `workdir/checkpoints`, TensorBoard in `workdir/tensorboard`, the resolved config
            in `workdir/config.yaml`, logged steps in `workdir/train_log.jsonl`.
        render_samples: samples `[n, 32, k]` → images `[n, h, w, c]` in [0, 1] for TensorBoard; the default is a
            latent heat map; `symdiff_tf.evaluation.sample_pianorolls.pianoroll_renderer` draws piano rolls.
    Returns:
        The records logged by this call: dicts with step, loss, learning_rate, grad_norm (and val_loss).
    """
    strategy = strategy or tf.distribute.get_strategy()
    workdir = pathlib.Path(workdir)
    chief = is_chief(strategy)
    max_steps = config.max_steps if max_steps is None else max_steps
    if config.mixed_precision not in MIXED_PRECISION:
        raise ValueError(f"mixed_precision must be one of {sorted(MIXED_PRECISION)}, got {config.mixed_precision!r}")
    if config.batch_size % strategy.num_replicas_in_sync:
        raise ValueError(f"batch_size {config.batch_size} is not divisible by the "
                         f"{strategy.num_replicas_in_sync} replicas")
    global_batch = config.batch_size
    task, state = build_state(build_task, config, strategy)
    optimizer, data_position = state.optimizer, state.data_position
    checkpoint = state.checkpoint

    checkpoint_dir = workdir / "checkpoints"
    if not chief:  # every worker must write; only the chief's copy is kept
        resolver = strategy.cluster_resolver
        checkpoint_dir = workdir / f".worker_{resolver.task_type}_{resolver.task_id}"
    manager = tf.train.CheckpointManager(checkpoint, str(checkpoint_dir), max_to_keep=config.keep_checkpoints)
    latest = tf.train.latest_checkpoint(str(workdir / "checkpoints"))
    if latest:
        checkpoint.restore(latest).assert_existing_objects_matched()
        logger.info("resumed from %s at step %d, data position %d", latest, int(optimizer.iterations.numpy()),
                    int(data_position.numpy()))
    if chief and resolved_config is not None:
        _save_resolved_config(workdir, resolved_config)

    start_step = int(optimizer.iterations.numpy())
    if int(data_position.numpy()) != start_step * global_batch:
        raise ValueError(f"{latest}: data position {int(data_position.numpy())} does not match step {start_step} × "
                         f"batch {global_batch}; was the global batch size changed?")
    train_data = _features(task, training_stream(train_windows, config.seed, int(data_position.numpy()),
                                                 config.shuffle_buffer), config.seed, global_batch)
    train_iterator = iter(strategy.experimental_distribute_dataset(train_data))
    train_step = build_train_step(task, state, config, strategy)

    @tf.function
    def eval_step(dist_features):
        def replica_eval(features):
            per_example = task.per_example_loss(features, training=False)
            return tf.reduce_sum(per_example), tf.cast(tf.size(per_example), tf.float32)
        total, count = strategy.run(replica_eval, args=(dist_features,))
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, total, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, count, axis=None))

    def validation_loss():
        total, count = 0.0, 0.0
        for batch in strategy.experimental_distribute_dataset(validation_dataset(task, val_windows, config)):
            batch_total, batch_count = eval_step(batch)
            total, count = total + float(batch_total), count + float(batch_count)
        return total / count if count else float("nan")

    writer = (tf.summary.create_file_writer(str(workdir / "tensorboard")) if chief
              else tf.summary.create_noop_writer())
    log_path = workdir / "train_log.jsonl"
    history = []
    schedule = optimizer.learning_rate
    steps = range(start_step, max_steps)
    if progress and chief:
        from tqdm import tqdm
        steps = tqdm(steps, initial=start_step, total=max_steps, desc="train", unit="step")
    for step in steps:
        loss, grad_norm = train_step(next(train_iterator))
        done = step + 1
        record = None
        if done % config.log_every == 0 or done == max_steps:
            record = {"step": done, "loss": float(loss), "learning_rate": float(schedule(step)),
                      "grad_norm": float(grad_norm), "data_position": int(data_position.numpy())}
            if not np.isfinite(record["loss"]) and config.mixed_precision != "float16":
                raise FloatingPointError(f"loss became {record['loss']} at step {done}")
        if val_windows is not None and config.eval_every and done % config.eval_every == 0:
            record = record or {"step": done}
            record["val_loss"] = validation_loss()
        with writer.as_default(step=done):
            if record is not None:
                for key in ("loss", "learning_rate", "grad_norm", "val_loss"):
                    if key in record:
                        summaries.scalar(key, record[key], done)
            if chief and config.sample_every and done % config.sample_every == 0:
                _log_samples(task, optimizer, config, done, render_samples)
        if record is not None:
            history.append(record)
            if chief:
                with log_path.open("a", encoding="utf-8") as log_file:
                    log_file.write(json.dumps(record) + "\n")
        if done % config.checkpoint_every == 0 or done == max_steps:
            manager.save(checkpoint_number=done)
    if start_step >= max_steps:
        logger.info("already trained to step %d (max_steps %d)", start_step, max_steps)
    writer.flush()
    if not chief:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return history


def _summary_sample_count(task) -> int:
    """How many samples the task wants in TensorBoard (its `sampling.tensorboard_samples`, else 4)."""
    return getattr(getattr(task.config, "sampling", None), "tensorboard_samples", 4)


def _log_samples(task, optimizer, config, step, render_samples):
    """Samples with the EMA weights when they exist (swapped in, then back) and logs them as images."""
    backup = optimizer.swap_in_ema() if config.ema else None
    try:
        samples = task.sample_for_summary(_summary_sample_count(task), seed=step)
    finally:
        if backup is not None:
            optimizer.restore(backup)
    if samples is not None:
        summaries.images("samples", render_samples(samples), step)


def load_for_inference(build_task, config: TrainConfig, checkpoint_path) -> TrainingTask:
    """Builds the task and restores its weights from a checkpoint file prefix or directory (the latest one).

    With `config.ema` on, the EMA weights are loaded into the model, as sampling should use them.
    """
    checkpoint_path = str(checkpoint_path)
    if os.path.isdir(checkpoint_path):
        directory = checkpoint_path
        if os.path.isdir(os.path.join(directory, "checkpoints")):
            directory = os.path.join(directory, "checkpoints")
        latest = tf.train.latest_checkpoint(directory)
        if latest is None:
            raise FileNotFoundError(f"{checkpoint_path}: no checkpoint found")
        checkpoint_path = latest
    task = build_task()
    optimizer = Adam(task.model.trainable_variables, learning_rate_schedule(config),
                     ema_decay=config.ema_decay if config.ema else None)
    tf.train.Checkpoint(model=task.model, optimizer=optimizer).restore(checkpoint_path).expect_partial()
    if config.ema:
        optimizer.swap_in_ema()
    return task


def load_trained(name: str, config_file, checkpoint_path, overrides=(), precision: str = "none") -> TrainingTask:
    """The task of registered model `name` (`symdiff_tf.models`), its config read from section `name` of
    `config_file` (after `overrides`), built under the dtype policy of `precision` ("none", "bfloat16" or
    "float16") with the weights of `checkpoint_path` (`load_for_inference`)."""
    from symdiff_tf.models import get_spec, load_model_config

    config = load_model_config(name, config_file, overrides)
    with dtype_policy(precision):
        return load_for_inference(lambda: get_spec(name).build_task(config), config.train, checkpoint_path)
