"""The one reverse process: any scheduler (`symdiff_tf.diffusion.schedulers`) over the trained network, for
sampling and for infilling, one seed per melody (`symdiff_tf.models_common.noise`), in one graph loop.

Sampling starts from x_N ~ N(0, I) and runs `scheduler.step` over `scheduler.timesteps(steps)` in a
`tf.while_loop`. Infilling is the same loop with the paper's replacement method (Algorithm 1): the kept chunks
start as the template noised to the first step's level, and after every step they are set to the template noised
to the level of the state they are in (`scheduler.add_noise`; the template itself after the last step), so they
come out equal to the template. The scheduler is a Python object (`LatentSampler.scheduler`) or chosen inside the
graph by an index tensor (`SchedulerSwitch`: one graph serves every method, as the SavedModel does).
"""
from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from symdiff_tf.diffusion import repeat_start as repeat, schedulers
from symdiff_tf.models_common import noise
from symdiff_tf.diffusion.schedule import LinearSchedule

# with a progress callback, the compiled loop runs in spans of steps of about this many seconds: a span boundary
# costs one call of the compiled function (about a millisecond), far below 1 % of a span
PROGRESS_SPAN_SECONDS = 0.5


def recorded_iterations(num_iterations: int, num_intermediates: int) -> np.ndarray:
    """Iterations done when each of the K intermediate states is recorded, `[K]` int: state k (0-based) is the one
    after the last iteration i with ⌊i·K / S⌋ = k, i.e. ⌈(k+1)·S / K⌉ of S iterations."""
    slots = np.arange(1, num_intermediates + 1)
    return -(-slots * num_iterations // num_intermediates)


def check_resample(resample, scheduler, name: str = "resample") -> int:
    """`resample` (passes per infilling step) as an int ≥ 1; more than 1 only for a scheduler that
    `can_resample` (a `Scheduler`). ValueError naming the problem and the input (`name`: "--resample" from
    the command line)."""
    if isinstance(resample, bool) or not float(resample).is_integer() or int(resample) < 1:
        raise ValueError(f"{name} {resample}: expected a whole number of passes per step, at least 1")
    if int(resample) > 1 and not scheduler.can_resample:
        raise ValueError(f"{name} {resample}: the {scheduler.name} scheduler keeps memory across steps, so its "
                         "steps cannot be taken again; resample with ddpm or ddim")
    return int(resample)


class SchedulerSwitch:
    """The registered schedulers behind one interface, the method chosen by `index` (int32 scalar tensor, the
    position in `schedulers.NAMES`) inside the graph. eta: DDIM's (float32 scalar tensor)."""

    def __init__(self, schedule, sampling, index, eta):
        self.members = [cls.from_settings(schedule, sampling, eta if cls.uses_eta else None)
                        for cls in schedulers.SCHEDULERS.values()]
        self.index = tf.convert_to_tensor(index, tf.int32)
        self.add_noise = self.members[0].add_noise  # the same q(x_t | x_0) for every method of one schedule
        self.can_resample = tf.gather(tf.constant([m.can_resample for m in self.members]), self.index)
        self.initial_state = self.members[0].initial_state

    def timesteps(self, num_steps):
        return tf.switch_case(self.index, [lambda m=m: m.timesteps(num_steps) for m in self.members])

    def step(self, x, predicted_noise, t, t_prev, noise_z, state):
        return tf.switch_case(self.index, [
            lambda m=m: m.step(x, predicted_noise, t, t_prev, noise_z, state) for m in self.members])


class SamplingDefaults:
    """A model's sampling choices: which schedulers it can run and their defaults, from its `LinearSchedule` and
    `SamplingConfig` (`sampling.method` the default scheduler, `ddim_steps` and `ddim_eta` DDIM's defaults,
    `ddpm_form` DDPM's form). Also what a SavedModel bundle's config gives, without its network."""

    def __init__(self, schedule: LinearSchedule, sampling):
        self.schedule, self.sampling = schedule, sampling
        self.num_diffusion_steps = schedule.num_steps

    @property
    def default_scheduler(self) -> str:
        """The model's default method (`sampling.method`)."""
        return schedulers.check_name(self.sampling.method, "the model's sampling.method")

    def scheduler(self, name: str | None = None, eta=None) -> schedulers.Scheduler:
        """The scheduler `name` (None: the model's default) with the model's settings; `eta` for DDIM."""
        return schedulers.build(name or self.default_scheduler, self.schedule, self.sampling, eta)

    def default_steps(self, name: str | None = None) -> int:
        """The step count of `name` when none is given: DDPM all N, DDIM `sampling.ddim_steps`, DPM-Solver++ 20."""
        return self.scheduler(name).default_steps(self.sampling.ddim_steps)

    def check_steps(self, steps: int, what: str = "steps") -> int:
        if not 1 <= int(steps) <= self.num_diffusion_steps:
            raise ValueError(f"{what} {steps}: expected 1..{self.num_diffusion_steps} (the model's schedule)")
        return int(steps)


class LatentSampler(SamplingDefaults):
    """Sampling and infilling of scaled latent windows `[B, L, k]` with a trained noise-prediction network
    `model([x [B, L, k], noise_level √ᾱ [B]]) → ε̂`.

    Args:
        model: the built Keras network (e.g. `TransformerDDPM`).
        schedule: its `LinearSchedule`.
        sampling: its `SamplingConfig` (`SamplingDefaults`).
        jit_compile: compile the numpy-facing functions with XLA.
    """

    def __init__(self, model, schedule: LinearSchedule, sampling, jit_compile: bool = False):
        super().__init__(schedule, sampling)
        self.model = model
        self.window_shape = tuple(model.inputs[0].shape[1:])  # (chunks, kept dims)
        self._jit_compile = bool(jit_compile)
        self._compiled = {}

    def switch(self, index, eta) -> SchedulerSwitch:
        """Every scheduler, chosen by `index` in the graph (`SchedulerSwitch`)."""
        return SchedulerSwitch(self.schedule, self.sampling, index, eta)

    # ----- graph pieces ------------------------------------------------------------------------------------
    def predict_noise(self, x, t):
        """ε̂ for states x `[B, L, k]` at step t (the network sees √ᾱ_t). float32."""
        alpha_bar = tf.gather(self.schedule.table("alpha_bars"), t)
        level = tf.fill(tf.shape(x)[:1], tf.sqrt(alpha_bar))
        return tf.cast(self.model([x, level], training=False), tf.float32)

    def start(self, pairs, scheduler, first_step, template=None, keep=None, uniform_start: bool = False,
              repeat_start=None, repeatable=None):
        """x at `first_step` `[B, L, k]`: N(0, I) per melody; when infilling, the kept chunks (`keep` `[B, L, 1]`
        float, 1 = keep) are the template noised to that level. `uniform_start`: U[0, 1) start and the template
        itself, as the original code did. `repeat_start` (float32 scalar, None: 1) below 1: the other chunks
        start as `repeat_start.repeat_sketch` (from the `repeatable` chunks, bool `[B, L]`, default the kept ones)
        noised to that level, with the same noise."""
        shape = self.window_shape
        if uniform_start:
            return noise.uniform(pairs, noise.START, 0, shape) * (1.0 - keep) + template * keep
        x = noise.normal(pairs, noise.START, 0, shape)
        if template is None:
            return x
        if repeat_start is not None:
            kept = tf.reshape(keep[:, :, 0] > 0.5, [-1, shape[0]])  # the window's length known to the graph
            sketch, found = repeat.repeat_sketch(template, kept, repeatable)
            from_sketch = found & (tf.convert_to_tensor(repeat_start, tf.float32) < 1.0)
            x = tf.where(from_sketch[:, :, None], scheduler.add_noise(sketch, x, first_step), x)
        known = scheduler.add_noise(template, noise.normal(pairs, noise.TEMPLATE, first_step, shape), first_step)
        return x * (1.0 - keep) + known * keep

    def run_span(self, x, state, records, pairs, scheduler, timesteps, first, last, template=None, keep=None,
                 template_at_current_step: bool = False, num_intermediates: int = 0, resample: int = 1):
        """Iterations first..last−1 (int32 scalars) of the reverse loop over `timesteps` (descending; t_prev the
        next one, 0 after the last), from x, the scheduler's `state` and the K recorded states so far (`records`
        `[K, B, L, k]`, or `[1]` when K = 0). Spans run one after another give what one span over all iterations
        gives. With a `template`, the kept chunks are pasted after each step (at the level of t_prev, or of t with
        `template_at_current_step`, the original's off-by-one). `resample` (int, or an int32 scalar tensor; when
        infilling with a scheduler that `can_resample`): each step is taken that many times, the result noised
        back to t by q(x_t | x_t_prev) between passes (RePaint's resampling with jumps of one step, Lugmayr et al.
        2022), so that the regenerated chunks are denoised again beside kept chunks that already agree with them;
        1 is the paper's replacement. Returns (x, state, records)."""
        shape = self.window_shape
        num_iterations = tf.shape(timesteps)[0]
        # the pass loop is built only where passes can exceed 1: infilling, pasting at t_prev, resample not a plain 1
        resampling = (template is not None and not template_at_current_step
                      and not (isinstance(resample, int) and resample == 1))

        def paste_level(t, t_prev):
            """The noise level of the pasted kept chunks after the step t → t_prev."""
            return t if template_at_current_step else t_prev

        def step_and_paste(x, state, t, t_prev, step_key, template_key):
            """One step t → t_prev with the noise of `step_key` (purpose, index); when infilling, the kept chunks
            set to the template noised (noise of `template_key`) to the level of t_prev (of t with
            `template_at_current_step`; the template itself after the last step)."""
            x, state = scheduler.step(x, self.predict_noise(x, t), t, t_prev, noise.normal(pairs, *step_key, shape),
                                      state)
            if template is not None:
                level = paste_level(t, t_prev)
                noised = scheduler.add_noise(template, noise.normal(pairs, *template_key, shape), level)
                x = x * (1.0 - keep) + tf.where(t_prev > 0, noised, template) * keep
            return x, state

        def resampled(x, state, t, t_prev):
            """`resample` passes of t → t_prev, each but the last taken back to t by q(x_t | x_t_prev)."""
            alpha_bars = self.schedule.table("alpha_bars")
            ratio = tf.gather(alpha_bars, t) / tf.gather(alpha_bars, t_prev)  # ᾱ_t / ᾱ_t_prev
            x_prev, state = step_and_paste(x, state, t, t_prev, (noise.STEP, t), (noise.TEMPLATE_STEP, t_prev))

            def again(u, x_prev, state):
                draw = tf.cast(t, tf.int64) * tf.cast(resample, tf.int64) + tf.cast(u, tf.int64)  # per (step, pass)
                back = tf.sqrt(ratio) * x_prev + tf.sqrt(1.0 - ratio) * noise.normal(pairs, noise.RESAMPLE, draw,
                                                                                      shape)
                x_prev, state = step_and_paste(back, state, t, t_prev, (noise.RESAMPLE_STEP, draw),
                                               (noise.RESAMPLE_TEMPLATE, draw))
                return u + 1, x_prev, state

            passes = tf.where((t_prev > 0) & scheduler.can_resample, resample, 1)
            _, x_prev, state = tf.while_loop(lambda u, *_: u < passes, again, (tf.constant(1), x_prev, state))
            return x_prev, state

        def body(index, x, state, records):
            t = timesteps[index]
            t_prev = tf.where(index + 1 < num_iterations, timesteps[tf.minimum(index + 1, num_iterations - 1)], 0)
            if resampling:
                x, state = resampled(x, state, t, t_prev)
            else:
                x, state = step_and_paste(x, state, t, t_prev, (noise.STEP, t),
                                          (noise.TEMPLATE_STEP, paste_level(t, t_prev)))
            if num_intermediates:
                slot = (index * num_intermediates) // num_iterations
                records = tf.tensor_scatter_nd_update(records, [[slot]], x[None])
            return index + 1, x, state, records

        _, x, state, records = tf.while_loop(lambda index, *_: index < last, body,
                                             (tf.convert_to_tensor(first, tf.int32), x, state, records))
        return x, state, records

    def visited_timesteps(self, scheduler, steps, repeat_start=None):
        """The timesteps `[K]` int32 the reverse process runs: the scheduler's `steps`, or with infilling's
        `repeat_start` S below 1 only those at or below the start's level round(S·N) (`repeat_start` module).
        None or 1: all of them."""
        timesteps = scheduler.timesteps(steps)
        if repeat_start is None:
            return timesteps
        return repeat.visited_timesteps(timesteps, repeat_start, self.num_diffusion_steps)

    def generate(self, pairs, scheduler, steps, template=None, keep_chunks=None, resample=1, repeat_start=None,
                 repeatable_chunks=None):
        """The whole reverse process in one graph: seed pairs `[B, 2]`, a scheduler (object or `SchedulerSwitch`),
        steps (int32 scalar tensor) → scaled latents `[B, L, k]` float32. With `template` `[B, L, k]` and
        `keep_chunks` `[B, L]` (true = keep): infilling, the kept chunks equal to the template, `resample` passes
        per step (int32 scalar tensor; `run_span`), the gap started from the repeated kept bars when
        `repeat_start` (float32 scalar tensor, None or 1: from noise) is below 1 (`repeat_start` module), from
        the `repeatable_chunks` (bool `[B, L]`; None: every kept chunk)."""
        timesteps = self.visited_timesteps(scheduler, steps, None if template is None else repeat_start)
        keep = None if template is None else tf.cast(keep_chunks, tf.float32)[:, :, None]
        x = self.start(pairs, scheduler, timesteps[0], template, keep, repeat_start=repeat_start,
                       repeatable=repeatable_chunks)
        x, _, _ = self.run_span(x, scheduler.initial_state(x), tf.zeros([1]), pairs, scheduler, timesteps, 0,
                                tf.shape(timesteps)[0], template, keep, resample=resample)
        return x

    # ----- numpy in, numpy out (progress bars, intermediate states) --------------------------------------
    def sample(self, seeds, scheduler=None, steps: int | None = None, eta=None, num_intermediates: int = 0,
               progress=None):
        """One window per seed (int `[B]`). scheduler: a name of `schedulers.NAMES` or a `Scheduler` object;
        scheduler/steps/eta None: the model's defaults. progress: None or `progress(steps_done, total_steps)`.
        Returns x_0 `[B, L, k]`, or (x_0, states `[K, B, L, k]`)."""
        return self._generate(seeds, scheduler, steps, eta, None, None, False, False, num_intermediates, progress)

    def infill(self, template, keep_chunks, seeds, scheduler=None, steps: int | None = None,
               eta=None, uniform_start: bool = False, template_at_current_step: bool = False,
               num_intermediates: int = 0, progress=None, resample: int = 1, repeat_start: float = 1.0):
        """Algorithm 1: regenerates the chunks where `keep_chunks` (`[L]` or `[B, L]`, 1 = keep) is 0 of the scaled
        `template` `[B, L, k]`. uniform_start, template_at_current_step: the original code's start and paste
        (docs/deviations.md). resample: passes per step (1: the paper's replacement; more: `run_span`; DDPM and
        DDIM only, and it multiplies the network calls). repeat_start: in (0, 1]; below 1 the regenerated chunks
        start from the kept chunks 16 bars before them (`repeat_start` module) and only the steps at or below
        that level are run. Other arguments and the result as `sample`; the kept chunks equal the template."""
        template = np.asarray(template, np.float32)
        keep = np.broadcast_to(np.asarray(keep_chunks, np.float32), template.shape[:2])
        return self._generate(seeds, scheduler, steps, eta, template, keep, uniform_start,
                              template_at_current_step, num_intermediates, progress, resample, repeat_start)

    def _generate(self, seeds, name, steps, eta, template, keep, uniform_start, template_at_current_step,
                  num_intermediates, progress, resample: int = 1, repeat_start: float = 1.0):
        if isinstance(name, schedulers.Scheduler):
            scheduler, identity = name, id(name)
        else:
            name = name or self.default_scheduler
            scheduler, identity = self.scheduler(name, eta), (name, None if eta is None else float(eta))
        resample = check_resample(resample, scheduler)
        if resample > 1 and template_at_current_step:
            raise ValueError(f"resample {resample}: not with the original's paste at level t")
        repeat_start = repeat.check_repeat_start(repeat_start)
        if repeat_start < 1 and uniform_start:
            raise ValueError(f"repeat_start {repeat_start}: not with the original's uniform start")
        steps = self.check_steps(scheduler.default_steps(self.sampling.ddim_steps) if steps is None else steps)
        pairs = noise.seed_pairs(np.asarray(seeds, np.int64))
        timesteps = self.visited_timesteps(scheduler, steps, repeat_start if template is not None else None)
        steps = int(timesteps.shape[0])
        start, span = self._functions(scheduler, identity, template is not None, bool(uniform_start),
                                      bool(template_at_current_step), int(num_intermediates), resample,
                                      repeat_start)
        extra = () if template is None else (tf.constant(template), tf.constant(keep[:, :, None]))
        x = start(pairs, timesteps, *extra)
        state = scheduler.initial_state(x)
        records = tf.zeros([num_intermediates, *x.shape]) if num_intermediates else tf.zeros([1])
        done, block = 0, (1 if progress is not None else steps)
        while done < steps:
            last = min(done + block, steps)
            began = time.perf_counter()
            x, state, records = span(x, state, records, pairs, timesteps, tf.constant(done), tf.constant(last),
                                     *extra)
            if progress is not None:
                progress(last, steps)
                block = max(1, int(PROGRESS_SPAN_SECONDS * (last - done) / max(time.perf_counter() - began, 1e-6)))
            done = last
        x = x.numpy()
        return (x, records.numpy()) if num_intermediates else x

    def _functions(self, scheduler, identity, infilling, uniform_start, template_at_current_step, num_intermediates,
                   resample, repeat_start):
        """The compiled (start, span) pair of one setting (traced once per batch size). `identity` names the
        scheduler's settings ((name, eta), or the id of a `Scheduler` object the caller passed), so that the
        functions compiled for them serve every later call with the same settings."""
        key = (identity, infilling, uniform_start, template_at_current_step, num_intermediates, resample,
               repeat_start)
        if key not in self._compiled:
            sketching = repeat_start if repeat_start < 1 else None  # s = 1: the start from noise, unchanged

            def start(pairs, timesteps, template=None, keep=None):
                return self.start(pairs, scheduler, timesteps[0], template, keep, uniform_start, sketching)

            def span(x, state, records, pairs, timesteps, first, last, template=None, keep=None):
                return self.run_span(x, state, records, pairs, scheduler, timesteps, first, last, template, keep,
                                     template_at_current_step, num_intermediates, resample)

            self._compiled[key] = tuple(tf.function(f, jit_compile=self._jit_compile, reduce_retracing=False)
                                        for f in (start, span))
        return self._compiled[key]
