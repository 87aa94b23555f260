"""The TransformerMDN as a training task (`symdiff_tf.training.loop.TrainingTask`): teacher-forced negative
log-likelihood. Registered as "mdn" in `symdiff_tf.training.registry`."""
import numpy as np
import tensorflow as tf

from symdiff_tf.mdn.config import MDNConfig
from symdiff_tf.mdn.inference import MDN_NETWORK
from symdiff_tf.mdn.mixture import negative_log_likelihood
from symdiff_tf.mdn.model import shift_right
from symdiff_tf.mdn.sampling import MDNSampler


class MDNTask:
    """Trains `TransformerMDN` on windows `[32, k]`: per example, the NLL averaged over its L positions
    (`original.md` §3.3 averages over batch × positions; the trainer then averages over the global batch)."""

    CONFIG_CLASS = MDNConfig

    def __init__(self, config: MDNConfig):
        self.config = config
        self.model = MDN_NETWORK.build(config)
        self._sampler = None

    def prepare_example(self, window: tf.Tensor, seed: tf.Tensor) -> dict:
        del seed  # the loss has no randomness
        return {"window": tf.cast(window, tf.float32)}

    def per_example_loss(self, features: dict, training: bool) -> tf.Tensor:
        windows = features["window"]
        params = self.model(shift_right(windows), training=training)
        return tf.reduce_mean(negative_log_likelihood(params, windows), axis=-1)

    def sampler(self) -> MDNSampler:
        """The compiled ancestral sampler of this task's model, built once."""
        if self._sampler is None:
            self._sampler = MDNSampler(self.model)
        return self._sampler

    def sample_for_summary(self, num_samples: int, seed: int):
        """`[num_samples, 32, k]` samples with the configured temperature and return convention."""
        sampling = self.config.sampling
        return self.sampler()(seed + np.arange(num_samples), sampling.temperature, sampling.return_values)

