"""Reverse-process schedulers, one module per method behind `base.Scheduler` (timesteps for a step count, one
`step`, `add_noise`), and the registry that names them. A new method is one module here plus one line in
`SCHEDULERS` (docs/diffusion.md shows how).

    scheduler = build("dpm-solver++", LinearSchedule())
"""
from symdiff_tf.diffusion.schedulers.base import Scheduler, spaced_timesteps
from symdiff_tf.diffusion.schedulers.ddim import DDIM
from symdiff_tf.diffusion.schedulers.ddpm import DDPM
from symdiff_tf.diffusion.schedulers.dpm_solver import DPMSolverPlusPlus

SCHEDULERS = {scheduler.name: scheduler for scheduler in (DDPM, DDIM, DPMSolverPlusPlus)}
NAMES = tuple(SCHEDULERS)


def check_name(name: str, what: str = "scheduler") -> str:
    """`name` when it is a registered scheduler, else ValueError naming the choices."""
    if name not in SCHEDULERS:
        raise ValueError(f"{what} {name!r}: expected one of {', '.join(NAMES)}")
    return name


def build(name: str, schedule, sampling=None, eta=None) -> Scheduler:
    """The scheduler `name` over `schedule` (`Scheduler.from_settings`: the model's `sampling` settings, a
    diffusion `SamplingConfig` or None; `eta` for a method that uses one, None for its default). ValueError for an
    unknown name, or an `eta` given to a method without one."""
    scheduler_class = SCHEDULERS[check_name(name)]
    if eta is not None and not scheduler_class.uses_eta:
        users = ", ".join(n for n, c in SCHEDULERS.items() if c.uses_eta)
        raise ValueError(f"eta {eta}: {name} has no eta (only {users})")
    return scheduler_class.from_settings(schedule, sampling, eta)


__all__ = ["DDIM", "DDPM", "DPMSolverPlusPlus", "NAMES", "SCHEDULERS", "Scheduler", "build", "check_name",
           "spaced_timesteps"]
