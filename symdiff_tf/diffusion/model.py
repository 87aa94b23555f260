"""TransformerDDPM (`original.md` §2.2): predicts the noise ε in a noisy window of latents.

x `[batch, 32, k]` → Dense(128) + sinusoidal positions → 6 pre-LN encoder blocks → LN → Dense(2048) →
2 FiLM residual blocks, each with its own FiLM generator driven by the noise level → LN → Dense(k) = ε̂.
"""
import keras

from symdiff_tf.models_common import layers
from symdiff_tf.models_common.constructor_config import ConstructorConfig


@keras.saving.register_keras_serializable(package="symdiff_tf")
class TransformerDDPM(ConstructorConfig, keras.Model):
    """The paper's diffusion network (a functional Keras model).

    Args (defaults are the paper's; see `TransformerDDPMConfig`, the argument of `from_config_dataclass`):
        latent_dim: int, kept latent dims per chunk (42).
        sequence_length: int, chunks per window (32).
        model_dims: int, transformer width (128).
        num_layers: int, encoder blocks (6).
        num_heads: int, attention heads (8).
        mlp_dims: int, transformer MLP and residual-block width (2048).
        num_mlp_layers: int, FiLM residual blocks (2).
        noise_encoding_dims: int, channels of the noise-level encoding (128).

    Call: `[x_noisy [batch, sequence_length, latent_dim], noise_level [batch]]` where noise_level = √ᾱ, →
    predicted noise `[batch, sequence_length, latent_dim]` float32 (also under mixed precision).
    """

    CONFIG_ARGUMENTS = ("latent_dim", "sequence_length", "model_dims", "num_layers", "num_heads", "mlp_dims",
                        "num_mlp_layers", "noise_encoding_dims")

    def __init__(self, latent_dim=42, sequence_length=32, model_dims=128, num_layers=6, num_heads=8,
                 mlp_dims=2048, num_mlp_layers=2, noise_encoding_dims=128, **kwargs):
        x_noisy = keras.Input((sequence_length, latent_dim), name="x_noisy")
        noise_level = keras.Input((), name="noise_level")
        h = layers.dense(model_dims, "input_projection")(x_noisy)
        h = layers.PositionalEncoding(name="positional_encoding")(h)
        for index in range(num_layers):
            h = layers.TransformerEncoderBlock(num_heads, mlp_dims, name=f"encoder_block_{index}")(h)
        h = layers.layer_norm("trunk_norm")(h)
        h = layers.dense(mlp_dims, "residual_projection")(h)
        for index in range(num_mlp_layers):
            scale, shift = layers.DenseFiLM(mlp_dims, noise_encoding_dims, name=f"film_{index}")(noise_level)
            h = layers.DenseResBlock(mlp_dims, name=f"residual_block_{index}")(h, scale, shift)
        h = layers.layer_norm("output_norm")(h)
        predicted_noise = layers.dense(latent_dim, "output_projection", dtype="float32")(h)
        super().__init__(inputs=[x_noisy, noise_level], outputs=predicted_noise, **kwargs)
        self.store_arguments(locals())
