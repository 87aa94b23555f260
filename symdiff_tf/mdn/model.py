"""TransformerMDN network (`original.md` §3.2): mixture parameters of p(z_i | z_<i) at every position.

inputs `[batch, L, D]` (the window shifted right by one: position i holds z_{i−1}, position 0 a zero start
vector; see `shift_right`) → Dense(128) + sinusoidal positions → 6 *causal* pre-LN encoder blocks → LN →
Dense(2048) → 2 residual blocks without FiLM → LN → three heads from the same 2048-d feature:
mixture logits Dense(K), means Dense(K·D) and log standard deviations Dense(K·D), both reshaped component-major
to `[..., K, D]`. The distribution itself is built by `symdiff_tf.mdn.mixture`.
"""
import keras
from keras import ops

from symdiff_tf.models_common import layers
from symdiff_tf.models_common.constructor_config import ConstructorConfig


def shift_right(windows):
    """Teacher forcing input: `[batch, L, D]` → `[batch, L, D]` with a zero vector first and the last dropped."""
    return ops.pad(windows, ((0, 0), (1, 0), (0, 0)))[:, :-1]


def _sequence_encoder(sequence_length, latent_dim, model_dims, num_layers, num_heads, mlp_dims) -> keras.Model:
    """Shifted latents `[batch, L, D]` → causal features `[batch, L, model_dims]` (the only part that mixes
    positions)."""
    inputs = keras.Input((sequence_length, latent_dim), name="shifted_latents")
    h = layers.dense(model_dims, "input_projection")(inputs)
    h = layers.PositionalEncoding(name="positional_encoding")(h)
    for index in range(num_layers):
        h = layers.TransformerEncoderBlock(num_heads, mlp_dims, causal=True, name=f"encoder_block_{index}")(h)
    return keras.Model(inputs, h, name="sequence_encoder")


def _position_head(latent_dim, model_dims, mlp_dims, num_mlp_layers, num_components) -> keras.Model:
    """Features `[batch, n, model_dims]` → mixture parameters at each of the n positions, position by position
    (any n: the sampler runs it on one position)."""
    features = keras.Input((None, model_dims), name="features")
    h = layers.layer_norm("trunk_norm")(features)
    h = layers.dense(mlp_dims, "residual_projection")(h)
    for index in range(num_mlp_layers):
        h = layers.DenseResBlock(mlp_dims, name=f"residual_block_{index}")(h)
    h = layers.layer_norm("output_norm")(h)
    component_shape = (-1, num_components, latent_dim)
    means = keras.layers.Reshape(component_shape, name="means_reshape")(
        layers.dense(num_components * latent_dim, "means")(h))
    log_scales = keras.layers.Reshape(component_shape, name="log_scales_reshape")(
        layers.dense(num_components * latent_dim, "log_scales")(h))
    logits = layers.dense(num_components, "logits")(h)
    # The likelihood is evaluated in float32 whatever the compute dtype.
    outputs = {
        name: keras.layers.Activation("linear", dtype="float32", name=f"{name}_float32")(value)
        for name, value in (("logits", logits), ("means", means), ("log_scales", log_scales))
    }
    return keras.Model(features, outputs, name="position_head")


@keras.saving.register_keras_serializable(package="symdiff_tf")
class TransformerMDN(ConstructorConfig, keras.Model):
    """The paper's autoregressive baseline network (a functional Keras model).

    Args (defaults are the paper's; see `TransformerMDNConfig`, the argument of `from_config_dataclass`):
        latent_dim: int, kept latent dims per chunk, D (42).
        sequence_length: int, chunks per window, L (32).
        model_dims: int, transformer width (128).
        num_layers: int, causal encoder blocks (6).
        num_heads: int, attention heads (8).
        mlp_dims: int, transformer MLP and residual-block width (2048).
        num_mlp_layers: int, residual blocks (2).
        num_components: int, mixture components, K (100).

    Call: inputs `[batch, L, D]`, already shifted right (`shift_right`), → dict of float32 tensors (also under
    mixed precision): "logits" `[batch, L, K]`, "means" `[batch, L, K, D]`, "log_scales" `[batch, L, K, D]`
    (natural log of the standard deviations). Output i depends on inputs 0..i only.

    It is two functional parts, `sequence_encoder` (Dense + positions + causal blocks, `[batch, L, model_dims]`)
    and `position_head` (everything after, applied to each position on its own), so that the sampler can run
    the costly position-wise part (about 90% of the FLOPs) on the one position it draws.
    """

    CONFIG_ARGUMENTS = ("latent_dim", "sequence_length", "model_dims", "num_layers", "num_heads", "mlp_dims",
                        "num_mlp_layers", "num_components")

    def __init__(self, latent_dim=42, sequence_length=32, model_dims=128, num_layers=6, num_heads=8,
                 mlp_dims=2048, num_mlp_layers=2, num_components=100, **kwargs):
        encoder = _sequence_encoder(sequence_length, latent_dim, model_dims, num_layers, num_heads, mlp_dims)
        head = _position_head(latent_dim, model_dims, mlp_dims, num_mlp_layers, num_components)
        inputs = keras.Input((sequence_length, latent_dim), name="shifted_latents")
        super().__init__(inputs=inputs, outputs=head(encoder(inputs)), **kwargs)
        self.sequence_encoder = encoder
        self.position_head = head
        self.store_arguments(locals())
