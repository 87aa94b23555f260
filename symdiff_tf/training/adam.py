"""Adam with an optional EMA of the weights, applied in the cross-replica context of a `tf.distribute` strategy.

Flax's `optim.Adam` exactly (`original.md` §2.5): m̂/(√v̂ + ε) with ε outside the square root of the
bias-corrected v, no weight decay. Gradients arrive already all-reduced and clipped, so there is no second
reduction and an update can sit under `tf.cond` (skipped steps of dynamic loss scaling).
"""
import tensorflow as tf


class Adam(tf.Module):
    """Adam over `variables` (Keras or tf variables), created inside `strategy.scope()`.

    Args:
        variables: the trainable variables, in the order gradients will be given.
        learning_rate: callable step → learning rate (step = updates done so far, from 0).
        beta_1, beta_2, epsilon: Adam's constants.
        ema_decay: if set, also keep `ema` shadows, e.g. 0.999 (the first update copies the weights).
    """

    def __init__(self, variables, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8, ema_decay=None,
                 name="adam"):
        super().__init__(name=name)
        self._targets = [getattr(v, "value", v) for v in variables]
        self.learning_rate = learning_rate
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.ema_decay = ema_decay
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        self.first_moments = [tf.Variable(tf.zeros_like(v), trainable=False, name="m") for v in self._targets]
        self.second_moments = [tf.Variable(tf.zeros_like(v), trainable=False, name="v") for v in self._targets]
        self.ema = ([tf.Variable(v.read_value(), trainable=False, name="ema") for v in self._targets]
                    if ema_decay else [])

    def apply(self, grads):
        """One update from `grads` (one per variable; in cross-replica context, per-replica or mirrored values)."""
        strategy = tf.distribute.get_strategy()
        step = tf.cast(self.iterations + 1, tf.float32)
        lr = tf.cast(self.learning_rate(self.iterations), tf.float32)
        correction_1 = 1.0 - tf.pow(self.beta_1, step)
        correction_2 = 1.0 - tf.pow(self.beta_2, step)

        def update(variable, grad, m, v, ema):
            grad = tf.cast(grad, variable.dtype)
            m.assign(self.beta_1 * m + (1.0 - self.beta_1) * grad)
            v.assign(self.beta_2 * v + (1.0 - self.beta_2) * tf.square(grad))
            variable.assign_sub(lr * (m / correction_1) / (tf.sqrt(v / correction_2) + self.epsilon))
            if ema is not None:
                decay = tf.where(step > 1.0, self.ema_decay, 0.0)
                ema.assign(decay * ema + (1.0 - decay) * variable)

        emas = self.ema or [None] * len(self._targets)
        for variable, grad, m, v, ema in zip(self._targets, grads, self.first_moments, self.second_moments, emas):
            args = (grad, m, v) if ema is None else (grad, m, v, ema)
            strategy.extended.update(variable, lambda var, g, m_, v_, e=None: update(var, g, m_, v_, e),
                                     args=args, group=False)
        self.iterations.assign_add(1)

    def swap_in_ema(self):
        """Copies the EMA weights into the variables (for sampling); returns the previous values to restore."""
        previous = [v.read_value() for v in self._targets]
        for variable, ema in zip(self._targets, self.ema):
            variable.assign(ema.read_value())
        return previous

    def restore(self, values):
        for variable, value in zip(self._targets, values):
            variable.assign(value)
