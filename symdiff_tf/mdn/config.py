"""Configuration dataclasses of the TransformerMDN: the `mdn:` section of a config file."""
import dataclasses

from symdiff_tf.models_common.train_config import TrainConfig


@dataclasses.dataclass
class TransformerMDNConfig:
    """TransformerMDN size (`original.md` §3.1–3.2). Defaults are the paper's model (38,050,484 parameters)."""
    latent_dim: int = 42           # kept latent dims per chunk; 0 in a config file: from the data (D)
    sequence_length: int = 32      # chunks per window
    model_dims: int = 128          # transformer width
    num_layers: int = 6            # causal encoder blocks
    num_heads: int = 8
    mlp_dims: int = 2048           # transformer MLP and residual-block width
    num_mlp_layers: int = 2        # residual blocks (no FiLM)
    num_components: int = 100      # mixture components (K)


@dataclasses.dataclass
class MDNSamplingConfig:
    """Defaults of MDN sampling (`symdiff_tf.mdn.sampling.sample`)."""
    temperature: float = 1.0       # the paper samples at 1.0
    # "conditioned": position i is the value later positions were conditioned on (default, correct);
    # "original": every position redrawn from the last forward pass, as the released sample_mdn.py (§3.4).
    return_values: str = "conditioned"


def _paper_mdn_train() -> TrainConfig:
    # original.md §3.1: lr 3e-4, batch 128, 250k steps, lr ×0.98 every 4000 steps, grad clip 1.0.
    return TrainConfig(batch_size=128, learning_rate=3e-4, lr_decay_rate=0.98, lr_decay_steps=4000,
                       max_steps=250000)


@dataclasses.dataclass
class MDNConfig:
    """The `mdn:` section."""
    model: TransformerMDNConfig = dataclasses.field(default_factory=TransformerMDNConfig)
    sampling: MDNSamplingConfig = dataclasses.field(default_factory=MDNSamplingConfig)
    train: TrainConfig = dataclasses.field(default_factory=_paper_mdn_train)
