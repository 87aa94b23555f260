"""Configuration dataclasses of the diffusion model: the `ddpm:` section of a config file."""
import dataclasses

from symdiff_tf.models_common.train_config import TrainConfig


@dataclasses.dataclass
class TransformerDDPMConfig:
    """TransformerDDPM size (`original.md` §2.1–2.2). Defaults are the paper's model (25,579,946 parameters)."""
    latent_dim: int = 42           # kept latent dims per chunk; 0 in a config file: from the data
    sequence_length: int = 32      # chunks per window
    model_dims: int = 128          # transformer width
    num_layers: int = 6            # encoder blocks
    num_heads: int = 8
    mlp_dims: int = 2048           # transformer MLP width and residual-block width
    num_mlp_layers: int = 2        # FiLM residual blocks
    noise_encoding_dims: int = 128  # channels of the noise-level encoding


@dataclasses.dataclass
class ScheduleConfig:
    """Linear β schedule and how the training noise level is drawn (`original.md` §2.3–2.4)."""
    beta_start: float = 1e-6
    beta_end: float = 0.01
    num_steps: int = 1000
    # "alpha_bar": ᾱ ~ U(ᾱ_{t−1}, ᾱ_t), as the released code does (§2.4, default);
    # "sqrt_alpha_bar": √ᾱ ~ U(√ᾱ_{t−1}, √ᾱ_t), as the paper's text and Algorithm 2 write it.
    noise_level_sampling: str = "alpha_bar"


@dataclasses.dataclass
class SamplingConfig:
    """Defaults of `symdiff sample` / `symdiff infill` and of the TensorBoard samples."""
    method: str = "ddpm"           # "ddpm" or "ddim"
    ddpm_form: str = "original"    # "original" (x̂0 clipped, β̃ variance) or "paper" (Algorithm 3)
    ddim_steps: int = 50
    ddim_eta: float = 0.0
    infill_resample: int = 1       # passes per step when infilling (1: the paper's replacement; more: RePaint's)
    infill_repeat_start: float = 1.0  # infilling starts the gap from the bars 16 before, noised to this level of the
    #                                   schedule (1: from noise, the paper's; `diffusion.repeat_start`)
    tensorboard_ddim_steps: int = 20  # cheap DDIM samples for the TensorBoard heat map
    tensorboard_samples: int = 4


@dataclasses.dataclass
class DDPMConfig:
    """The `ddpm:` section."""
    model: TransformerDDPMConfig = dataclasses.field(default_factory=TransformerDDPMConfig)
    schedule: ScheduleConfig = dataclasses.field(default_factory=ScheduleConfig)
    sampling: SamplingConfig = dataclasses.field(default_factory=SamplingConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
