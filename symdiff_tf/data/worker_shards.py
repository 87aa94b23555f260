"""Training windows read per input pipeline: under `MultiWorkerMirroredStrategy` each worker reads only its own
files of a built TFDS split, never the whole split.

`ShardedWindows(builder, config)` is what `symdiff_tf.training.loop.train` takes instead of a dataset when the
data is `tfds:` and there are several workers. Called with a `tf.distribute.InputContext`, it returns the windows
`[window_chunks, k]` float32 of TFDS files `i, i + n, i + 2n, ...` of the training split (pipeline `i` of `n`;
TFDS's own file sharding, `tfds.ReadConfig(input_context=...)`), scaled with `scaler`. Every window of the split
lies in exactly one pipeline's files, so in one epoch of every pipeline each window is read once. The training
split is `train`, or `train+train_transposed` (both splits' files) with `latents.transposed`
(`latent_config.training_split`).

The scaler comes from `fit_shared_scaler`: each worker fits min/max on its own windows and the workers exchange
them (an all-gather of 2 numbers per replica), so that every worker, and the saved `latent_scaling.json`, hold the
min/max over all windows without any worker reading another's files. With `z_mode` "sample" or "fixed" the seeded
draw the min/max are taken over is drawn per worker, so they differ slightly from a one-process fit of the same
data (not at all with "mu").
"""
from __future__ import annotations

import numpy as np

from symdiff_tf.data.latent_config import LatentDataConfig, training_split
from symdiff_tf.data.latent_windows import fit_scaler, windows_dataset
from symdiff_tf.data.melody_latents import MelodyLatents, select_kept_dims
from symdiff_tf.data.scaler import LatentScaler


def pipeline_examples(builder, split: str, input_context):
    """The per-melody examples of `split` (a split, or a sum like "train+train_transposed") in this input
    pipeline's TFDS files (all files without a context).

    ValueError naming the dataset when it has fewer files than there are pipelines (rebuild it with more shards,
    `DownloadConfig(num_shards=...)`)."""
    import tensorflow_datasets as tfds

    files = len(builder.info.splits[split].shard_lengths)
    if input_context is not None and files < input_context.num_input_pipelines:
        raise ValueError(f"{builder.data_dir}: the {split} split has {files} file(s) for "
                         f"{input_context.num_input_pipelines} workers; every worker needs its own files: rebuild "
                         "with at least as many shards (tfds build ... --num_shards N, or DownloadConfig(num_shards))")
    read_config = tfds.ReadConfig(input_context=input_context, shuffle_seed=None, interleave_cycle_length=1)
    return builder.as_dataset(split=split, read_config=read_config, shuffle_files=False)


class ShardedWindows:
    """Training windows of a built latent split, read per input pipeline (see the module docstring).

    Args:
        builder: the TFDS builder of a built latent config (`symdiff_tf.data.tfds_spec.open_builder`).
        config: how melodies become windows (`LatentDataConfig`); its `transposed` says which split is read
            (`training_split`).
    """

    def __init__(self, builder, config: LatentDataConfig):
        self.builder, self.config = builder, config
        self.split = training_split(builder, config)
        self.scaler: LatentScaler | None = None
        self._latents = {}

    def kept_dims(self) -> np.ndarray:
        """The kept latent dims: `config.kept_dims`, else chosen from the builder's `mean_sigma_train`."""
        if self.config.kept_dims is not None:
            return np.asarray(sorted(self.config.kept_dims), np.int64)
        mean_sigma = self.builder.info.metadata.get("mean_sigma_train")
        if mean_sigma is None:
            raise ValueError(f"{self.builder.data_dir}: no mean_sigma_train in the metadata; name the kept dims "
                             "(latents.kept_dims)")
        return select_kept_dims(mean_sigma, self.config.sigma_threshold, self.config.kept_top_k)

    def latents(self, input_context) -> MelodyLatents:
        """This pipeline's melodies (kept dims only), read once."""
        key = None if input_context is None else input_context.input_pipeline_id
        if key not in self._latents:
            self._latents[key] = MelodyLatents.from_examples(
                pipeline_examples(self.builder, self.split, input_context), dims=self.kept_dims())
        return self._latents[key]

    @property
    def element_spec(self):
        """`TensorSpec([window_chunks, k], float32)` of every window (what a dataset of them would say)."""
        import tensorflow as tf

        return tf.TensorSpec([self.config.window_chunks, len(self.kept_dims())], tf.float32)

    def held_out(self, split: str = "eval"):
        """The windows of a held-out split ("eval": validation, else test; read whole, it is small) scaled with
        the shared scaler, or None when the dataset has no such split."""
        from symdiff_tf.data.sources import held_out_split_name, held_out_windows

        name = held_out_split_name(self.builder, split)
        return None if name is None else held_out_windows(self.builder, name, self.scaler, self.config)

    def __call__(self, input_context):
        """`[window_chunks, k]` float32 windows of this pipeline's files, finite and in a fixed order."""
        if self.scaler is None:
            raise ValueError("ShardedWindows: fit the scaler first (fit_shared_scaler)")
        return windows_dataset(self.latents(input_context), self.scaler, self.config)


def worker_position(strategy) -> tuple[int, int]:
    """(this worker's input pipeline id, the number of workers): the chief first, then the workers by index, as
    `MultiWorkerMirroredStrategy` numbers its input pipelines; (0, 1) without a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return 0, 1
    cluster = resolver.cluster_spec().as_dict()
    tasks = [(kind, index) for kind in ("chief", "worker") for index in range(len(cluster.get(kind, ())))]
    return tasks.index((resolver.task_type, resolver.task_id)), len(tasks)


def fit_shared_scaler(windows: ShardedWindows, strategy) -> LatentScaler:
    """Fits `windows.scaler` on all windows of the split: each worker on its own files, then min/max exchanged
    between the workers (`strategy.gather`). Call it on every worker, in step (it is a collective)."""
    import tensorflow as tf

    worker_id, workers = worker_position(strategy)
    context = tf.distribute.InputContext(num_input_pipelines=workers, input_pipeline_id=worker_id,
                                         num_replicas_in_sync=strategy.num_replicas_in_sync)
    own = fit_scaler(windows.latents(context), windows.config, kept_dims=windows.kept_dims(),
                     mean_sigma_per_dim=None)
    bounds = strategy.gather(strategy.run(lambda: tf.constant([[own.minimum, own.maximum]], tf.float64)), axis=0)
    bounds = np.asarray(bounds)
    windows.scaler = LatentScaler(own.kept_dims, own.z_size, float(bounds[:, 0].min()), float(bounds[:, 1].max()),
                                  "train")
    return windows.scaler
