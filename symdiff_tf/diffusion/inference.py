"""Loading a trained diffusion model for sampling and infilling (`symdiff sample`, `symdiff infill`, `symdiff
evaluate`): the network from a run directory (`symdiff_tf.models_common.loading`), without the training code."""
from symdiff_tf.diffusion.config import DDPMConfig
from symdiff_tf.diffusion.model import TransformerDDPM
from symdiff_tf.diffusion.samplers import DiffusionSampler
from symdiff_tf.diffusion.schedule import LinearSchedule
from symdiff_tf.models_common.loading import NetworkSpec, load_network

DDPM_NETWORK = NetworkSpec(section="ddpm", config_class=DDPMConfig, model_class=TransformerDDPM, model_name="ddpm")


def load_sampler(config_file, checkpoint, overrides=(), precision: str = "none", mode: str = "compiled"):
    """(trained, sampler): the `TrainedNetwork` of the `ddpm:` section in `checkpoint` and its `DiffusionSampler`.

    `config_file`: a config with a `ddpm:` section, or None for the run's own. `checkpoint`: a run directory, its
    `checkpoints/` folder, a checkpoint prefix or an artifact folder `RUN/inference/step_N`. EMA weights are used
    when the run kept them. `precision`: "none", "bfloat16" or "float16" (the network only; the schedule and
    update arithmetic stay float32). `mode`: "compiled", "xla" or "eager".
    """
    trained = load_network(DDPM_NETWORK, checkpoint, config_file, overrides, precision)
    schedule = LinearSchedule.from_config(trained.config.schedule)
    return trained, DiffusionSampler(trained.model, schedule, mode=mode)
