"""The endless, deterministic, resumable stream of training examples that both trainers read
(`symdiff_tf.training.loop` for the latent models, `symdiff_tf.training.musicvae` for the VAE)."""
import numpy as np
import tensorflow as tf

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
