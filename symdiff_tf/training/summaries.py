"""TensorBoard summaries written with TensorFlow's core `tf.summary.write`, so training does not need the
`tensorboard` package installed (it is only needed to *view* the logs). The records carry the same plugin
metadata as `tf.summary.scalar` / `tf.summary.image`, so TensorBoard shows them as scalars and images."""
import shlex

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2


def _metadata(plugin_name: str) -> summary_pb2.SummaryMetadata:
    return summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin_name))


def scalar(name: str, value: float, step: int) -> None:
    """A scalar under the default summary writer."""
    tf.summary.write(name, tf.constant(value, tf.float32), step=step, metadata=_metadata("scalars"))


def images(name: str, pictures: np.ndarray, step: int) -> None:
    """Images `[n, height, width, channels]` in [0, 1] (channels 1, 3 or 4) under the default summary writer."""
    pictures = np.asarray(pictures)
    encoded = [tf.io.encode_png(tf.convert_to_tensor(np.round(np.clip(p, 0, 1) * 255).astype(np.uint8)))
               for p in pictures]
    height, width = pictures.shape[1:3]
    tensor = tf.stack([tf.constant(str(width)), tf.constant(str(height)), *encoded])
    tf.summary.write(name, tensor, step=step, metadata=_metadata("images"))


def viewer_command(logdir) -> str:
    """The shell command that opens the TensorBoard logs in `logdir` (the `tensorboard` package is installed with
    the project)."""
    return f"tensorboard --logdir {shlex.quote(str(logdir))}"
