"""The MDN head's distribution and loss, with `tfp.distributions` (not `tfp.layers`, which are Keras 2).

p(z) = Σ_k softmax(logits)_k · N(z; means_k, diag(exp(log_scales_k))²), as `MixtureSameFamily(Categorical,
MultivariateNormalDiag)` (`original.md` §3.3).
"""
import tensorflow as tf
import tensorflow_probability as tfp

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


def negative_log_likelihood(params: dict, targets: tf.Tensor) -> tf.Tensor:
    """−log p(targets) per position: params from the model, targets `[batch, L, D]` → `[batch, L]` float32."""
    return -mixture_distribution(params).log_prob(tf.cast(targets, tf.float32))
