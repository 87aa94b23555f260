"""One optimizer step of a training task under `tf.distribute`, and the state a checkpoint holds.

The seam is `TrainingTask` (`symdiff_tf.training.registry` builds one from a config section):
- `model`: the Keras model whose trainable weights are optimised (built, i.e. it has its weights);
- `prepare_example(window, seed)`: runs inside tf.data on one `[32, k]` float32 window with a stateless seed
  `[2]` int64 unique to that example (its position in the training stream), and returns a dict of tensors. All
  randomness of the loss (noise, noise level, ...) belongs here, so a given example has the same loss however
  the global batch is split over replicas and workers, and after a resume;
- `per_example_loss(features, training)`: features batched per replica → `[per_replica_batch]` float32;
- `sample_for_summary(num_samples, seed)`: `[num_samples, 32, k]` numpy samples for TensorBoard, or None.

The step: Adam (`symdiff_tf.training.adam`) with global-norm clipping over the all-reduced gradients, stepped
exponential learning-rate decay, the loss averaged over the *global* batch, optional EMA of the weights, mixed
precision with dynamic loss scaling for float16.
"""
import dataclasses
import typing

import keras
import numpy as np
import tensorflow as tf

from symdiff_tf.models_common.precision import dtype_policy
from symdiff_tf.models_common.train_config import TrainConfig
from symdiff_tf.training.adam import Adam


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


@dataclasses.dataclass
class TrainState:
    """What a checkpoint holds besides the model: the optimizer (its step counter is the global step: updates
    applied), the data position (examples consumed), and for float16 training the dynamic loss scale, the finite
    steps since it last changed and the steps skipped on overflow (batches consumed, no update)."""
    optimizer: Adam
    data_position: tf.Variable
    loss_scale: tf.Variable
    finite_steps: tf.Variable
    skipped_steps: tf.Variable
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
            skipped_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="skipped_steps")
            checkpoint = tf.train.Checkpoint(model=task.model, optimizer=optimizer, data_position=data_position,
                                             loss_scale=loss_scale, finite_steps=finite_steps,
                                             skipped_steps=skipped_steps)
    return task, TrainState(optimizer, data_position, loss_scale, finite_steps, skipped_steps, checkpoint)


def build_train_step(task, state: TrainState, config: TrainConfig, strategy, jit_compile: bool | None = None):
    """The compiled training step: distributed batch → (loss, grad_norm), both global.

    Per replica: loss averaged over the global batch, gradients all-reduced, global norm clipped. Then one Adam
    update in cross-replica context (skipped and counted in `state.skipped_steps`, with the loss scale halved,
    on float16 overflow). `jit_compile` (XLA) defaults to `config.jit_compile`.
    """
    jit_compile = config.jit_compile if jit_compile is None else jit_compile
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
            state.skipped_steps.assign_add(tf.where(finite, tf.constant(0, tf.int64), 1))
            grow = finite_steps >= 2000
            loss_scale.assign(tf.where(finite, tf.where(grow, loss_scale * 2.0, loss_scale), loss_scale / 2.0))
            finite_steps.assign(tf.where(grow, tf.zeros_like(finite_steps), finite_steps))
        else:
            apply(grads)
        state.data_position.assign_add(global_batch)
        return loss, grad_norm

    return train_step
