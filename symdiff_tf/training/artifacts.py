"""The inference artifact a training run leaves after each checkpoint (`symdiff_tf.models_common.run_dir`): the
network with the weights sampling should use (the EMA ones when `train.ema`) as `model.keras`, beside the resolved
config, the latent scaler and the run's `inference.json` record."""
from symdiff_tf.models_common import run_dir
from symdiff_tf.models_common.precision import dtype_policy


class ArtifactWriter:
    """Writes `workdir/inference/step_N/` for the chief of a training run.

    Args:
        task: the `TrainingTask` being trained (its `model` is a `ConstructorConfig` Keras model).
        optimizer: its `Adam`; the EMA shadows (`optimizer.ema`, in the order of the trainable variables) are
            shipped instead of the raw weights when there are any.
        workdir: the run directory.
        record: what `inference.json` says besides `step` and `ema` (at least `model`, the config section).
    """

    def __init__(self, task, optimizer, workdir, record: dict):
        self._model, self._optimizer, self._workdir, self._record = task.model, optimizer, workdir, dict(record)
        self._network = None

    def _shipped_network(self):
        """A float32 copy of the model (built once, outside any strategy) holding the weights to ship."""
        if self._network is None:
            with dtype_policy("none"):
                self._network = type(self._model).from_config(self._model.get_config())
        trained = self._optimizer.ema or self._model.trainable_variables
        for target, source in zip(self._network.trainable_variables, trained):
            target.assign(source.numpy())
        for target, source in zip(self._network.non_trainable_variables, self._model.non_trainable_variables):
            target.assign(source.numpy())
        return self._network

    def write(self, step: int, kept_checkpoints) -> None:
        """The artifact of `step` (just checkpointed); then those of checkpoints no longer kept are removed."""
        record = {**self._record, "ema": bool(self._optimizer.ema)}
        run_dir.write_artifact(self._workdir, step, self._shipped_network(), record)
        run_dir.prune_artifacts(self._workdir, [run_dir.checkpoint_step(path) for path in kept_checkpoints])

    def write_if_missing(self, step: int, kept_checkpoints) -> None:
        """`write(step)` unless its artifact exists: a run trained before artifacts existed, or killed between
        its last checkpoint and the artifact, gets one when its command is run again."""
        if step not in run_dir.artifact_steps(self._workdir):
            self.write(step, kept_checkpoints)
