"""DDIM (Song et al. 2021): a non-Markovian reverse process over any subset of the N steps, deterministic at
eta = 0; eta = 1 over all N steps without clipping is DDPM with σ² = β̃."""
import tensorflow as tf

from symdiff_tf.diffusion.schedulers.base import Scheduler


class DDIM(Scheduler):
    """Args (besides `Scheduler`'s schedule and clip_denoised, default True: x̂0 clipped to [−1, 1] and ε̂
    re-derived from it): eta, the stochasticity (a float or a float32 scalar tensor, ≥ 0).
    Default step count: the model's `sampling.ddim_steps`."""

    name = "ddim"
    uses_eta = True

    @classmethod
    def from_settings(cls, schedule, sampling=None, eta=None):
        if eta is None:
            eta = sampling.ddim_eta if sampling is not None else 0.0
        return cls(schedule, eta=eta)

    def __init__(self, schedule, eta=0.0, clip_denoised: bool = True):
        super().__init__(schedule, clip_denoised)
        self.eta = tf.cast(eta, tf.float32)

    def step(self, x, predicted_noise, t, t_prev, noise, state):
        alpha_bar, alpha_bar_prev = tf.gather(self.alpha_bars, t), tf.gather(self.alpha_bars, t_prev)
        x0 = self.denoised(x, predicted_noise, alpha_bar)
        if self.clip_denoised:
            predicted_noise = (x - tf.sqrt(alpha_bar) * x0) / tf.sqrt(1.0 - alpha_bar)
        sigma = self.eta * tf.sqrt((1.0 - alpha_bar_prev) / (1.0 - alpha_bar) * (1.0 - alpha_bar / alpha_bar_prev))
        direction = tf.sqrt(tf.maximum(1.0 - alpha_bar_prev - tf.square(sigma), 0.0)) * predicted_noise
        return tf.sqrt(alpha_bar_prev) * x0 + direction + sigma * noise, state
