"""The TransformerMDN as a `symdiff_tf.training.TrainingTask`: teacher-forced negative log-likelihood."""
import tensorflow as tf

from symdiff_tf.mdn.config import MDNConfig
from symdiff_tf.mdn.mixture import negative_log_likelihood
from symdiff_tf.mdn.model import TransformerMDN, shift_right
from symdiff_tf.mdn.sampling import MDNSampler
from symdiff_tf.models import ModelSpec


class MDNTask:
    """Trains `TransformerMDN` on windows `[32, k]`: per example, the NLL averaged over its L positions
    (`original.md` §3.3 averages over batch × positions; the trainer then averages over the global batch)."""

    def __init__(self, config: MDNConfig):
        self.config = config
        self.model = TransformerMDN.from_config_dataclass(config.model, name="transformer_mdn")
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
        return self.sampler()(num_samples, seed, sampling.temperature, sampling.return_values)


# Registry entry (`symdiff_tf.models`): the task for an `mdn:` config section.
MODEL_SPEC = ModelSpec(name="mdn", config_class=MDNConfig, build_task=MDNTask)
