"""Compiled (tf.function) versions of the MusicVAE computations: the whole 32-step loop is one graph.

Each function is traced once per model and precision with a batch dimension of None, so any batch size
reuses it. Plain `tf.function` without XLA: on these CPUs XLA was not faster (../shared/docs/environment.md)
and it changes stateless random numbers.
"""
import tensorflow as tf


def _cached(model, key, build):
    functions = model._cache.functions
    if key not in functions:
        functions[key] = build()
    return functions[key]


def encode_function(model, precision="float32"):
    """tokens int32 `[batch, T]` -> (mu, sigma) float32 `[batch, z_size]`."""
    def build():
        weights = model.inference_weights(precision)

        @tf.function(input_signature=[tf.TensorSpec([None, model.max_seq_len], tf.int32)], autograph=False)
        def encode(tokens):
            return model.encode_tensors(tokens, weights)
        return encode
    return _cached(model, ("encode", precision), build)


def greedy_function(model, precision="float32"):
    """z float32 `[batch, z_size]` -> greedy tokens int32 `[batch, T]`."""
    def build():
        weights = model.inference_weights(precision)

        @tf.function(input_signature=[tf.TensorSpec([None, model.z_size], tf.float32)], autograph=False)
        def greedy(z):
            return model.run_decoder(z, weights)[1]
        return greedy
    return _cached(model, ("greedy", precision), build)


def gumbel_noise(shape, seed):
    """Standard Gumbel noise from a stateless seed `[2]` int64 (same seed, same noise)."""
    uniform = tf.random.stateless_uniform(shape, seed=seed, minval=1e-20, maxval=1.0, dtype=tf.float32)
    return -tf.math.log(-tf.math.log(uniform))


def sample_function(model, precision="float32"):
    """(z `[batch, z_size]`, temperature scalar > 0, seed `[2]` int64) -> sampled tokens int32 `[batch, T]`."""
    def build():
        weights = model.inference_weights(precision)

        @tf.function(input_signature=[tf.TensorSpec([None, model.z_size], tf.float32),
                                      tf.TensorSpec([], tf.float32), tf.TensorSpec([2], tf.int64)],
                     autograph=False)
        def sample(z, temperature, seed):
            noise = gumbel_noise([tf.shape(z)[0], model.max_seq_len, model.num_classes], seed)
            return model.run_decoder(z, weights, gumbel=noise, temperature=temperature)[1]
        return sample
    return _cached(model, ("sample", precision), build)


def teacher_forced_function(model, precision="float32"):
    """(tokens int32 `[batch, T]`, z `[batch, z_size]`) -> teacher-forced logits `[batch, T, 90]`."""
    def build():
        weights = model.inference_weights(precision)

        @tf.function(input_signature=[tf.TensorSpec([None, model.max_seq_len], tf.int32),
                                      tf.TensorSpec([None, model.z_size], tf.float32)], autograph=False)
        def teacher_forced(tokens, z):
            return model.run_decoder(z, weights, targets=tokens)[0]
        return teacher_forced
    return _cached(model, ("teacher_forced", precision), build)
