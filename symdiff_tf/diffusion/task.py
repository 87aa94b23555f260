"""The diffusion model as a training task (`symdiff_tf.training.loop.TrainingTask`): Algorithm 2's loss
(`original.md` §2.4). Registered as "ddpm" in `symdiff_tf.training.registry`."""
import numpy as np
import tensorflow as tf

from symdiff_tf.diffusion.config import DDPMConfig
from symdiff_tf.diffusion.inference import DDPM_NETWORK, make_sampler
from symdiff_tf.diffusion.reverse import LatentSampler
from symdiff_tf.diffusion.schedule import LinearSchedule, add_noise


class DDPMTask:
    """TransformerDDPM + linear schedule. Per example: ε ~ N(0, I), a continuous level √ᾱ (§2.4), and the loss
    mean over (32 × k) of (ε − ε̂(√ᾱ·x0 + √(1−ᾱ)·ε, √ᾱ))²."""

    CONFIG_CLASS = DDPMConfig

    def __init__(self, config: DDPMConfig):
        self.config = config
        self.schedule = LinearSchedule.from_config(config.schedule)
        self.model = DDPM_NETWORK.build(config)
        self._sampler = None

    def prepare_example(self, window, seed):
        """window `[32, k]`, stateless seed `[2]` → {x_clean, noise `[32, k]`, noise_level `[]`}, float32."""
        noise_seed, level_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        window = tf.cast(window, tf.float32)
        return {"x_clean": window, "noise": tf.random.stateless_normal(tf.shape(window), noise_seed),
                "noise_level": self.schedule.sample_noise_level(level_seed)}

    def per_example_loss(self, features, training):
        """features batched `[b, ...]` → `[b]` float32 mean squared noise-prediction error."""
        x_noisy = add_noise(features["x_clean"], features["noise"], features["noise_level"])
        predicted = tf.cast(self.model([x_noisy, features["noise_level"]], training=training), tf.float32)
        return tf.reduce_mean(tf.square(features["noise"] - predicted), axis=[1, 2])

    def sampler(self) -> LatentSampler:
        if self._sampler is None:
            self._sampler = make_sampler(self.model, self.config)
        return self._sampler

    def sample_for_summary(self, num_samples, seed):
        """A few cheap DDIM samples `[num_samples, 32, k]` for TensorBoard (melody i from seed + i)."""
        steps = self.config.sampling.tensorboard_ddim_steps
        return self.sampler().sample(seed + np.arange(num_samples), "ddim", steps)

