"""Input checks inside the SavedModel's graph: each failure is an InvalidArgumentError whose message names the input
and what was expected, also where TF Serving feeds tensors straight into the graph.

The signatures declare their inputs with unknown shapes, so that a wrong shape reaches these checks instead of
failing on the way in with the runtime's own words; `has_shape` returns its input with the expected static shape,
the other checks return theirs unchanged; whatever follows a check runs only once it has passed.
"""
import tensorflow as tf


def _after(assertion, value):
    """`value`, computed only once `assertion` has passed."""
    with tf.control_dependencies([assertion]):
        return tf.identity(value)


def _conformed(value, sizes):
    """`value` laid out as `sizes` (an int32 vector): `value` itself when it has that shape, otherwise some tensor
    of that shape. Never fails, whatever shape `value` has, also where the runtime infers shapes before running
    (`tf.ensure_shape` or a plain reshape would fail there ahead of the check's message)."""
    count = tf.reduce_prod(sizes)
    flat = tf.concat([tf.reshape(value, [-1]), tf.zeros([count], value.dtype)], axis=0)[:count]
    return tf.reshape(flat, sizes)


def has_shape(value, name: str, shape, description: str):
    """`value` with rank len(shape) and every dim equal to shape[i] (None: any size ≥ 1), else the error
    "`name`: expected `description`; got shape [...]". Returns it with that static shape."""
    rank = len(shape)
    actual = tf.shape(value)
    padded = tf.concat([actual, tf.ones([rank], tf.int32)], axis=0)[:rank]  # safe to index whatever the rank
    fits = tf.equal(tf.rank(value), rank)
    for index, size in enumerate(shape):
        fits = fits & (padded[index] >= 1 if size is None else tf.equal(padded[index], size))
    checked = _after(tf.debugging.Assert(fits, [f"{name}: expected {description}; got shape", actual], summarize=8),
                     value)
    sizes = [padded[index] if size is None else size for index, size in enumerate(shape)]
    return _conformed(checked, tf.stack(sizes) if sizes else tf.zeros([0], tf.int32))


def same_batch(value, name: str, batch, reference: str):
    """`value` whose first dim is `batch`, else "`name`: expected one row per melody, as many as `reference`"."""
    actual = tf.shape(value)[0]
    return _after(tf.debugging.Assert(tf.equal(actual, batch), [
        f"{name}: expected one entry per melody, as many as {reference} has; got", actual, "for", batch]), value)


def in_range(value, name: str, low, high, description: str):
    """`value` (of known rank) with every element in [low, high] (and finite for floats), else "`name`: expected
    `description`; got VALUE" (a scalar) or "...; got values from MIN to MAX"."""
    fits = tf.reduce_all((value >= low) & (value <= high))
    if value.dtype.is_floating:
        fits = fits & tf.reduce_all(tf.math.is_finite(value))
    if value.shape.rank == 0:
        found = [f"{name}: expected {description}; got", value]
    else:
        found = [f"{name}: expected {description}; got values from", tf.reduce_min(value), "to",
                 tf.reduce_max(value)]
    return _after(tf.debugging.Assert(fits, found), value)


def regenerates_some(mask, name: str):
    """A bool mask `[B, bars]` (true = keep) where each row regenerates at least one bar, else "`name`: ...
    melodies that keep every bar: [indices]"."""
    bad = tf.where(tf.reduce_all(mask, axis=1))[:, 0]
    return _after(tf.debugging.Assert(tf.equal(tf.size(bad), 0), [
        f"{name}: expected each melody to regenerate at least one bar (false); melodies that keep every bar:",
        bad]), mask)


def one_of(value, name: str, choices):
    """The position of the string scalar `value` in `choices` (int32), else "`name`: expected one of ...; got
    VALUE"."""
    matches = tf.equal(tf.constant(list(choices)), value)
    found = _after(tf.debugging.Assert(tf.reduce_any(matches), [
        f"{name}: expected one of {', '.join(choices)}; got", value]), matches)
    return tf.cast(tf.argmax(tf.cast(found, tf.int32)), tf.int32)


def zero_unless(value, name: str, allowed, description: str):
    """The float scalar `value`, which must be 0 unless `allowed` (a bool scalar), else "`name`: `description`;
    got VALUE"."""
    return _after(tf.debugging.Assert(allowed | tf.equal(value, 0.0), [f"{name}: {description}; got", value]),
                  value)
