"""Loading a trained diffusion model for sampling (used by `symdiff sample` and `symdiff infill`)."""
from symdiff_tf.diffusion.samplers import DiffusionSampler
from symdiff_tf.training import load_trained


def load_sampler(config_file, checkpoint, overrides=(), precision: str = "none", mode: str = "compiled"):
    """(task, sampler) for the `ddpm:` section of `config_file` with weights from `checkpoint`.

    `checkpoint`: a work directory, its `checkpoints/` folder, or a checkpoint prefix. EMA weights are used when
    the config trained with EMA. `precision`: "none", "bfloat16" or "float16" (the network only; the schedule
    and update arithmetic stay float32). `mode`: "compiled", "xla" or "eager".
    """
    task = load_trained("ddpm", config_file, checkpoint, overrides, precision)
    return task, DiffusionSampler(task.model, task.schedule, mode=mode)
