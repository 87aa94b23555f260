"""Loading a trained diffusion model for sampling (used by `symdiff sample` and `symdiff infill`)."""
import keras

from symdiff_tf.diffusion.samplers import DiffusionSampler
from symdiff_tf.models import get_spec, load_model_config
from symdiff_tf.training import MIXED_PRECISION, load_for_inference


def load_sampler(config_file, checkpoint, overrides=(), precision: str = "none", mode: str = "compiled"):
    """(task, sampler) for the `ddpm:` section of `config_file` with weights from `checkpoint`.

    `checkpoint`: a work directory, its `checkpoints/` folder, or a checkpoint prefix. EMA weights are used when
    the config trained with EMA. `precision`: "none", "bfloat16" or "float16" (the network only; the schedule
    and update arithmetic stay float32). `mode`: "compiled", "xla" or "eager".
    """
    config = load_model_config("ddpm", config_file, overrides)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(MIXED_PRECISION[precision])
    try:
        task = load_for_inference(lambda: get_spec("ddpm").build_task(config), config.train, checkpoint)
    finally:
        keras.config.set_dtype_policy(previous)
    return task, DiffusionSampler(task.model, task.schedule, mode=mode)
