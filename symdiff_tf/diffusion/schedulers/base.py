"""What every scheduler offers (after HuggingFace diffusers' schedulers): the steps it visits for a step count,
one reverse `step`, and `add_noise`. `symdiff_tf.diffusion.reverse` runs any of them in one graph loop.

Steps are 1-based, as in the paper: x_N … x_0 with ᾱ_0 = 1. A step count is an int32 scalar *tensor*, so one
traced graph serves every count (the SavedModel takes it as an input). A step receives the network's noise
prediction ε̂ for x_t and returns x_{t_prev}; a scheduler that needs memory across steps (DPM-Solver++'s previous
x̂0 and step) keeps it in `state`, the same structure for every scheduler so that one loop (and one switch between
schedulers, `reverse.SchedulerSwitch`) carries it: (a tensor shaped like x, the previous step int32; `initial_state`:
zeros and 0, "no step yet").
All arithmetic is float32.
"""
import tensorflow as tf

from symdiff_tf.diffusion.schedule import LinearSchedule


def spaced_timesteps(num_steps, num_diffusion_steps: int):
    """`num_steps` steps evenly spread over N..1, descending: round(linspace(N, 1, num_steps)) computed as numpy
    computes it (start + i·step in float64, the last value set to the stop), int32 `[num_steps]`.

    `num_steps`: an int32 scalar (tensor or int) in 1..N; N itself gives every step N, N−1, …, 1."""
    num_steps = tf.convert_to_tensor(num_steps, tf.int32)
    count = tf.cast(num_steps, tf.float64)
    start = tf.constant(float(num_diffusion_steps), tf.float64)
    step = (1.0 - start) / tf.maximum(count - 1.0, 1.0)
    index = tf.range(num_steps)
    values = tf.cast(index, tf.float64) * step + start
    values = tf.where((index == num_steps - 1) & (num_steps > 1), tf.constant(1.0, tf.float64), values)
    return tf.cast(tf.round(values), tf.int32)


def predicted_clean(x, predicted_noise, alpha_bar):
    """x̂0 = (x_t − √(1−ᾱ_t)·ε̂) / √ᾱ_t."""
    return (x - tf.sqrt(1.0 - alpha_bar) * predicted_noise) / tf.sqrt(alpha_bar)


class Scheduler:
    """A reverse-process method over a `LinearSchedule`. Subclasses set `name` and implement `step`; they may
    override `default_steps` (the step count used when none is given) and `timesteps`.

    Args:
        schedule: the model's `LinearSchedule` (N training steps, ᾱ_t).
        clip_denoised: clip x̂0 to [−1, 1] (the range of the scaled latents) where the method uses x̂0.
    """

    name = ""
    uses_eta = False  # whether the method has a stochasticity eta (DDIM)
    can_resample = True  # whether a step can be taken again from a re-noised state (no memory across steps)

    @classmethod
    def from_settings(cls, schedule: LinearSchedule, sampling=None, eta=None) -> "Scheduler":
        """The method over `schedule` with the model's `sampling` settings (a diffusion `SamplingConfig`, or None
        for the defaults) and `eta` (only for a method that `uses_eta`; None: the model's default)."""
        return cls(schedule)

    def __init__(self, schedule: LinearSchedule, clip_denoised: bool = True):
        self.schedule = schedule
        self.num_diffusion_steps = schedule.num_steps
        self.clip_denoised = bool(clip_denoised)
        self.alpha_bars = schedule.table("alpha_bars")

    def default_steps(self, configured_steps: int) -> int:
        """The step count when the caller gives none; `configured_steps` is the model's `sampling.ddim_steps`."""
        return int(configured_steps)

    def timesteps(self, num_steps):
        """The steps visited for `num_steps` (int32 scalar tensor, 1..N): int32 `[num_steps]`, descending from N."""
        return spaced_timesteps(num_steps, self.num_diffusion_steps)

    def add_noise(self, x_clean, noise, t):
        """q(x_t | x_0) = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε for a step t (int32 scalar, 0..N; t = 0 gives x_0)."""
        alpha_bar = tf.gather(self.alpha_bars, t)
        return tf.sqrt(alpha_bar) * x_clean + tf.sqrt(1.0 - alpha_bar) * noise

    def denoised(self, x, predicted_noise, alpha_bar):
        """x̂0 from ε̂, clipped when `clip_denoised`."""
        x0 = predicted_clean(x, predicted_noise, alpha_bar)
        return tf.clip_by_value(x0, -1.0, 1.0) if self.clip_denoised else x0

    @staticmethod
    def initial_state(x):
        """The state before the first step: (zeros like x, step 0)."""
        return tf.zeros_like(x), tf.constant(0, tf.int32)

    def step(self, x, predicted_noise, t, t_prev, noise, state):
        """x_t → x_{t_prev}. x, predicted_noise and noise (z ~ N(0, I), for stochastic methods) `[B, L, k]`
        float32; t > t_prev ≥ 0 int32 scalars (t_prev = 0 on the last step); state as `initial_state`. Returns
        (x_{t_prev}, new state)."""
        raise NotImplementedError
