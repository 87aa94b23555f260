"""`TrainConfig`: the `train:` subsection shared by every trainable model (diffusion, TransformerMDN).

It lives beside the models, not in `symdiff_tf.training`, because it is a field of their config sections
(`DDPMConfig.train`), which inference reads too; only the training loop acts on its values.
"""
import dataclasses


@dataclasses.dataclass
class TrainConfig:
    """Optimisation and bookkeeping of `symdiff_tf.training.loop.train` (`original.md` §2.5, §3.1).

    The learning rate is `learning_rate · lr_decay_rate^floor(step / lr_decay_steps)` (stepped exponential).
    The paper's text says the decay comes every 4000 steps; the released diffusion config used 10000.
    """
    batch_size: int = 64                 # global batch, over all replicas
    learning_rate: float = 1e-3
    lr_decay_rate: float = 0.98
    lr_decay_steps: int = 4000
    grad_clip_norm: float = 1.0          # global-norm clipping; 0 turns it off
    adam_beta_1: float = 0.9
    adam_beta_2: float = 0.999
    adam_epsilon: float = 1e-8
    max_steps: int = 500000
    seed: int = 0
    ema: bool = False                    # keep an exponential moving average of the weights, used for sampling
    ema_decay: float = 0.999
    mixed_precision: str = "none"        # "none", "bfloat16", or "float16" (with dynamic loss scaling)
    jit_compile: bool = False            # compile the training step with XLA (for GPUs/TPUs; not faster on CPU)
    shuffle_buffer: int = 10000          # only for datasets that are not in memory
    checkpoint_every: int = 5000         # steps
    keep_checkpoints: int = 50
    log_every: int = 100                 # steps between TensorBoard scalars
    eval_every: int = 5000               # steps between validation losses (0: never)
    eval_batches: int = 10
    sample_every: int = 20000            # steps between TensorBoard sample images (0: never)
