"""Ancestral DDPM sampling (Ho et al. 2020; the paper's Algorithm 3 and the released code's form).

Over all N steps each step is x_t → x_{t−1} with β_t. Over fewer steps (a subset τ of 1..N, as DDIM spaces them)
it is the same ancestral step with the β of the jump, β = 1 − ᾱ_t / ᾱ_{t_prev} (Nichol & Dhariwal 2021), which
over all N steps is β_t exactly.
"""
import tensorflow as tf

from symdiff_tf.diffusion.schedulers.base import Scheduler, predicted_clean

FORMS = ("original", "paper")
VARIANCES = ("beta_tilde", "beta")
VARIANCE_FLOOR = 1e-20


class DDPM(Scheduler):
    """Args (besides `Scheduler`'s schedule):
        form: "original" — as the released code ran it: x̂0 is computed, clipped to [−1, 1], and the posterior mean
            of q(x_{t−1} | x_t, x̂0) is used, so every output lies in [−1, 1]; "paper" — Algorithm 3:
            x_{t−1} = (x_t − β_t/√(1−ᾱ_t)·ε̂)/√α_t + σ_t·z, no clipping.
        variance: σ_t² = β̃_t = β_t(1−ᾱ_{t−1})/(1−ᾱ_t) ("beta_tilde": the paper, the original and WaveGrad) or β_t.
    Default step count: all N steps.
    """

    name = "ddpm"

    @classmethod
    def from_settings(cls, schedule, sampling=None, eta=None):
        return cls(schedule, form=sampling.ddpm_form if sampling is not None else "original")

    def __init__(self, schedule, form: str = "original", variance: str = "beta_tilde"):
        for option, value, choices in (("form", form, FORMS), ("variance", variance, VARIANCES)):
            if value not in choices:
                raise ValueError(f"DDPM {option} must be one of {choices}, got {value!r}")
        super().__init__(schedule, clip_denoised=form == "original")
        self.form, self.variance = form, variance

    def default_steps(self, configured_steps: int) -> int:
        return self.num_diffusion_steps

    def step(self, x, predicted_noise, t, t_prev, noise, state):
        alpha_bar, alpha_bar_prev = tf.gather(self.alpha_bars, t), tf.gather(self.alpha_bars, t_prev)
        alpha = alpha_bar / alpha_bar_prev
        beta = 1.0 - alpha
        if self.form == "original":
            x0 = tf.clip_by_value(predicted_clean(x, predicted_noise, alpha_bar), -1.0, 1.0)
            mean = (beta * tf.sqrt(alpha_bar_prev) / (1.0 - alpha_bar)) * x0 + (
                (1.0 - alpha_bar_prev) * tf.sqrt(alpha) / (1.0 - alpha_bar)) * x
        else:
            mean = (x - beta / tf.sqrt(1.0 - alpha_bar) * predicted_noise) / tf.sqrt(alpha)
        if self.variance == "beta_tilde":
            sigma_squared = tf.maximum(beta * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar), VARIANCE_FLOOR)
        else:
            sigma_squared = beta
        sigma = tf.where(t_prev > 0, tf.sqrt(sigma_squared), 0.0)
        return mean + sigma * noise, state
