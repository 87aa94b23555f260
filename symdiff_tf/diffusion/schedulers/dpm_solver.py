"""DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic
Models", Algorithm 2): a second-order multistep solver of the diffusion ODE in data prediction (x̂0) form.

With α_t = √ᾱ_t, σ_t = √(1−ᾱ_t), λ_t = log(α_t/σ_t) and h = λ_{t_prev} − λ_t, one step is
    x_{t_prev} = (σ_{t_prev}/σ_t)·x_t − α_{t_prev}·(e^{−h} − 1)·D,
with D = x̂0 on the first step (first order: DDIM with eta 0) and, after it,
D = (1 + 1/(2r))·x̂0 − 1/(2r)·x̂0_prev with r = h_prev / h (x̂0_prev and h_prev from the step before).
The last step (to ᾱ_0 = 1, where σ = 0 and h is infinite) is first order and returns x̂0, as diffusers does with
`lower_order_final`. The state carries x̂0_prev and the previous step's t (h_prev follows from it). x̂0 is clipped to
[−1, 1] by default, as DDIM here does.
"""
import tensorflow as tf

from symdiff_tf.diffusion.schedulers.base import Scheduler


class DPMSolverPlusPlus(Scheduler):
    """Args: `Scheduler`'s (clip_denoised default True), and order: 2 (default, 2M) or 1 (first order, equal to
    DDIM with eta 0). Default step count: 20."""

    name = "dpm-solver++"

    def __init__(self, schedule, clip_denoised: bool = True, order: int = 2):
        if order not in (1, 2):
            raise ValueError(f"DPM-Solver++ order must be 1 or 2, got {order}")
        super().__init__(schedule, clip_denoised)
        self.order = order

    def default_steps(self, configured_steps: int) -> int:
        return 20

    def _lambda(self, alpha_bar):
        return 0.5 * (tf.math.log(alpha_bar) - tf.math.log(1.0 - alpha_bar))

    def step(self, x, predicted_noise, t, t_prev, noise, state):
        """Second order when a previous step exists (state's step > t) and `order` is 2 and t_prev > 0, else
        first order. state: (x̂0 of the previous step, its t). Returns (x_{t_prev}, (x̂0, t))."""
        previous_x0, previous_t = state
        alpha_bar, alpha_bar_prev = tf.gather(self.alpha_bars, t), tf.gather(self.alpha_bars, t_prev)
        x0 = self.denoised(x, predicted_noise, alpha_bar)
        last = t_prev <= 0
        safe_prev = tf.where(last, tf.gather(self.alpha_bars, 1), alpha_bar_prev)  # keeps the unused branch finite
        h = self._lambda(safe_prev) - self._lambda(alpha_bar)
        data = x0
        if self.order == 2:
            previous_alpha_bar = tf.gather(self.alpha_bars, previous_t)
            h_previous = self._lambda(alpha_bar) - self._lambda(previous_alpha_bar)
            second = (previous_t > t) & ~last
            r = tf.where(second, h_previous / h, 1.0)
            data = tf.where(second, (1.0 + 0.5 / r) * x0 - (0.5 / r) * previous_x0, x0)
        ratio = tf.sqrt((1.0 - safe_prev) / (1.0 - alpha_bar))  # σ_{t_prev} / σ_t
        stepped = ratio * x - tf.sqrt(safe_prev) * tf.math.expm1(-h) * data
        return tf.where(last, x0, stepped), (x0, tf.convert_to_tensor(t, tf.int32))
