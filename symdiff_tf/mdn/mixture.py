"""The MDN head's distribution and loss, with `tfp.distributions` (not `tfp.layers`, which are Keras 2).

p(z) = Σ_k softmax(logits)_k · N(z; means_k, diag(exp(log_scales_k))²), as `MixtureSameFamily(Categorical,
MultivariateNormalDiag)` (`original.md` §3.3).
"""
import tensorflow as tf
import tensorflow_probability as tfp

from symdiff_tf.models_common import noise

tfd = tfp.distributions


def mixture_distribution(params: dict, temperature: float | tf.Tensor = 1.0) -> tfd.Distribution:
    """The mixture with batch shape `[...]` and event shape `[D]` from `TransformerMDN` outputs.

    Args:
        params: "logits" `[..., K]`, "means" `[..., K, D]`, "log_scales" `[..., K, D]`.
        temperature: τ > 0. τ = 1 is the model's distribution (the paper samples at 1). Otherwise the
            mixture weights are softmax(logits / τ) and every standard deviation is multiplied by √τ (the
            sketch-rnn convention), so τ → 0 approaches the mean of the most likely component.
    """
    temperature = tf.cast(temperature, tf.float32)
    logits = tf.cast(params["logits"], tf.float32) / temperature
    scales = tf.exp(tf.cast(params["log_scales"], tf.float32)) * tf.sqrt(temperature)
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(logits=logits),
        components_distribution=tfd.MultivariateNormalDiag(loc=tf.cast(params["means"], tf.float32),
                                                           scale_diag=scales),
    )


def draw(params: dict, temperature, pairs, step) -> tf.Tensor:
    """One draw per row from `mixture_distribution(params, temperature)`, row b's noise from its own seed pair
    (`symdiff_tf.models_common.noise`: so a melody is the same in any batch): the component by the Gumbel-max
    trick on softmax(logits / τ), then its Gaussian with the standard deviations times √τ.

    params: "logits" `[B, ..., K]`, "means" and "log_scales" `[B, ..., K, D]` (static shapes past B); pairs
    `[B, 2]` int64; step: which draw of the melody (int32 scalar). Returns float32 `[B, ..., D]`."""
    temperature = tf.cast(temperature, tf.float32)
    logits = tf.cast(params["logits"], tf.float32) / temperature
    means, log_scales = tf.cast(params["means"], tf.float32), tf.cast(params["log_scales"], tf.float32)
    uniform = noise.uniform(pairs, noise.MIXTURE_COMPONENT, step, logits.shape[1:])
    gumbel = -tf.math.log(-tf.math.log(tf.clip_by_value(uniform, 1e-20, 1.0 - 1e-7)))
    chosen = tf.one_hot(tf.argmax(logits + gumbel, axis=-1), logits.shape[-1])[..., None]  # [B, ..., K, 1]
    mean = tf.reduce_sum(chosen * means, axis=-2)
    log_scale = tf.reduce_sum(chosen * log_scales, axis=-2)
    standard = noise.normal(pairs, noise.MIXTURE_VALUE, step, mean.shape[1:])
    return mean + tf.exp(log_scale) * tf.sqrt(temperature) * standard


def negative_log_likelihood(params: dict, targets: tf.Tensor) -> tf.Tensor:
    """−log p(targets) per position: params from the model, targets `[batch, L, D]` → `[batch, L]` float32."""
    return -mixture_distribution(params).log_prob(tf.cast(targets, tf.float32))
