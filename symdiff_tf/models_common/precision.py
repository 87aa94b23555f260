"""Mixed precision by name: "none", "bfloat16" or "float16" (the `train.mixed_precision` values and the
`--precision` option of the inference commands) → Keras's global dtype policy, set for a block of code."""
import contextlib

import keras

MIXED_PRECISION = {"none": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


@contextlib.contextmanager
def dtype_policy(precision: str):
    """Keras's global dtype policy set to `MIXED_PRECISION[precision]` inside the block, restored after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(MIXED_PRECISION[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
