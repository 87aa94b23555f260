"""A generic, resumable training loop under `tf.distribute` for any `TrainingTask` (`symdiff_tf.training.step`).

What the loop does: the compiled step of `symdiff_tf.training.step` over the endless, resumable stream of
`symdiff_tf.data.stream`, `tf.train.CheckpointManager` with resume at the same step and data position,
validation losses, TensorBoard scalars and images, `train_log.jsonl` (one line per logged step), the resolved
config, and after every checkpoint an inference artifact (`symdiff_tf.training.artifacts`) in the run directory.
"""
import json
import logging
import pathlib
import shutil
import typing

import numpy as np
import tensorflow as tf

from symdiff_tf.training import summaries
from symdiff_tf.data.stream import training_stream
from symdiff_tf.models_common import run_dir
from symdiff_tf.models_common.precision import MIXED_PRECISION
from symdiff_tf.models_common.train_config import TrainConfig
from symdiff_tf.training.artifacts import ArtifactWriter
from symdiff_tf.training.distribute import is_chief
from symdiff_tf.training.step import TrainingTask, build_state, build_train_step

logger = logging.getLogger(__name__)
VALIDATION_SEED_OFFSET = 1_000_003  # validation noise comes from a seed stream disjoint from training


def _features(task, stream, seed, batch, pipeline_id=0, num_pipelines=1):
    """Batches of `batch` prepared examples of `stream` (`(index, window)`); example `index` of input pipeline
    `pipeline_id` of `num_pipelines` gets the noise seed `[seed, index * num_pipelines + pipeline_id]`, unique
    over all pipelines (one pipeline: its position in the global stream)."""
    def prepare(index, window):
        example = index * num_pipelines + pipeline_id
        return task.prepare_example(window, tf.stack([tf.constant(seed, tf.int64), example]))

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (tf.data.experimental.AutoShardPolicy.DATA
                                                         if num_pipelines == 1 else
                                                         tf.data.experimental.AutoShardPolicy.OFF)
    options.deterministic = True
    return (stream.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE).with_options(options))


def distributed_training_data(task, train_windows, config: TrainConfig, strategy, data_position: int):
    """The distributed training batches from data position `data_position` (examples consumed, global).

    `train_windows` is a finite dataset of windows (every worker reads it all and keeps its part of each global
    batch) or a callable `tf.distribute.InputContext` → this pipeline's own windows (`ShardedWindows`: each worker
    reads only its own files; its stream of `global batch / pipelines` examples per step is an endless sequence
    of permutations of its windows, resumed at `data_position / pipelines`)."""
    if isinstance(train_windows, tf.data.Dataset):
        stream = training_stream(train_windows, config.seed, data_position, config.shuffle_buffer)
        return strategy.experimental_distribute_dataset(_features(task, stream, config.seed, config.batch_size))

    def pipeline_data(context):
        pipelines = context.num_input_pipelines
        stream = training_stream(train_windows(context), config.seed, data_position // pipelines,
                                 config.shuffle_buffer)
        return _features(task, stream, config.seed, context.get_per_replica_batch_size(config.batch_size),
                         context.input_pipeline_id, pipelines)

    return strategy.distribute_datasets_from_function(pipeline_data)


def validation_dataset(task, windows, config: TrainConfig) -> tf.data.Dataset:
    """The first `eval_batches` global batches of `windows`, with fixed per-example noise."""
    return _features(task, windows.enumerate(), config.seed + VALIDATION_SEED_OFFSET, config.batch_size).take(
        config.eval_batches)


def latent_heatmap(samples: np.ndarray) -> np.ndarray:
    """Latents `[n, 32, k]` in about [−1, 1] → grey images `[n, k, 32, 1]` in [0, 1] (chunks along x)."""
    images = (np.clip(np.asarray(samples, np.float32), -1.0, 1.0) + 1.0) / 2.0
    return np.transpose(images, (0, 2, 1))[..., None]


def train(build_task: typing.Callable[[], TrainingTask], train_windows: tf.data.Dataset, config: TrainConfig,
          workdir, strategy: tf.distribute.Strategy | None = None, val_windows: tf.data.Dataset | None = None,
          resolved_config: dict | None = None, render_samples=latent_heatmap, max_steps: int | None = None,
          progress: bool = True, run_info: dict | None = None) -> list[dict]:
    """Trains until `max_steps` (default `config.max_steps`) optimizer steps, resuming from `workdir`.

    Args:
        build_task: builds the task (and its model); called inside `strategy.scope()` after the dtype policy
            is set.
        train_windows / val_windows: finite datasets of `[32, k]` float32 windows (`symdiff_tf.data.sources`);
            train_windows may instead be a callable input context → that pipeline's own windows
            (`symdiff_tf.data.worker_shards.ShardedWindows`, `distributed_training_data`).
        config: `TrainConfig`; `batch_size` is the global batch.
        workdir: checkpoints in `workdir/checkpoints`, TensorBoard in `workdir/tensorboard`, the resolved config
            in `workdir/config.yaml`, logged steps in `workdir/train_log.jsonl`.
        render_samples: samples `[n, 32, k]` → images `[n, h, w, c]` in [0, 1] for TensorBoard; the default is a
            latent heat map; `symdiff_tf.evaluation.sample_pianorolls.pianoroll_renderer` draws piano rolls.
        run_info: what the inference artifact records besides the weights, at least `model` (the config section
            name), e.g. `{"model": "ddpm", "vae_content_hash": None}`. When given, every checkpoint is followed
            by `workdir/inference/step_N/` (`symdiff_tf.models_common.run_dir`); None writes no artifacts.
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

    def steps_done() -> int:  # batches consumed: updates applied and float16 steps skipped on overflow
        return int(optimizer.iterations.numpy()) + int(state.skipped_steps.numpy())

    checkpoint_dir = workdir / run_dir.CHECKPOINTS_DIRNAME
    if not chief:  # every worker must write; only the chief's copy is kept
        resolver = strategy.cluster_resolver
        checkpoint_dir = workdir / f".worker_{resolver.task_type}_{resolver.task_id}"
    manager = tf.train.CheckpointManager(checkpoint, str(checkpoint_dir), max_to_keep=config.keep_checkpoints)
    latest = tf.train.latest_checkpoint(str(workdir / run_dir.CHECKPOINTS_DIRNAME))
    if latest:
        checkpoint.restore(latest).assert_existing_objects_matched()
        logger.info("resumed from %s at step %d, data position %d", latest, steps_done(),
                    int(data_position.numpy()))
    if chief and resolved_config is not None:
        run_dir.write_config(workdir, resolved_config)
    artifacts = ArtifactWriter(task, optimizer, workdir, run_info) if chief and run_info is not None else None

    start_step = steps_done()
    if int(data_position.numpy()) != start_step * global_batch:
        raise ValueError(f"{latest}: data position {int(data_position.numpy())} does not match step {start_step} × "
                         f"batch {global_batch}; was the global batch size changed?")
    train_iterator = iter(distributed_training_data(task, train_windows, config, strategy,
                                                    int(data_position.numpy())))
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
            if config.mixed_precision == "float16":  # overflowed batches: consumed, no update
                record.update(skipped_steps=int(state.skipped_steps.numpy()),
                              loss_scale=float(state.loss_scale.numpy()))
            if not np.isfinite(record["loss"]) and config.mixed_precision != "float16":
                raise FloatingPointError(f"loss became {record['loss']} at step {done}")
        if val_windows is not None and config.eval_every and done % config.eval_every == 0:
            record = record or {"step": done}
            record["val_loss"] = validation_loss()
        with writer.as_default(step=done):
            if record is not None:
                for key in ("loss", "learning_rate", "grad_norm", "val_loss", "skipped_steps", "loss_scale"):
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
            if artifacts is not None:
                artifacts.write(done, manager.checkpoints)
    if start_step >= max_steps:
        logger.info("already trained to step %d (max_steps %d)", start_step, max_steps)
    final_step = steps_done()
    if artifacts is not None and run_dir.checkpoint_step(manager.latest_checkpoint or "") == final_step:
        artifacts.write_if_missing(final_step, manager.checkpoints)  # e.g. a run from before artifacts, rerun
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
