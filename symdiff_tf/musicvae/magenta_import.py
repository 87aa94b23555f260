"""Reads a Magenta MusicVAE checkpoint (TF1 `LSTMBlockCell` variables) into a Keras `MusicVAE`.

Mapping (original.md §5.2, §5.5), for each LSTMBlockCell `kernel` [input + units, 4·units] and `bias`:
- kernel rows [x; h]: the first `input` rows become the Keras `kernel`, the rest the `recurrent_kernel`;
- column blocks i, j, f, o (j = candidate) are reordered to Keras' i, f, c, o;
- LSTMBlockCell adds forget_bias = 1.0 at run time: it is added to the f block of the Keras bias.
Dense layers (`encoder/mu`, `encoder/sigma`, `decoder/z_to_initial_state`, `decoder/output_projection`) copy
as they are; the initial-state split [c0, h0, c1, h1, ...] is the same in both.
`global_step` and optimizer slots (`.../Adam`, `.../Adam_1`, `beta1_power`, ...) are ignored.
"""
from __future__ import annotations

import contextlib
import pathlib
import tarfile
import tempfile

import numpy as np

from symdiff_tf.musicvae.configs import MusicVAEConfig, get_config

MAGENTA_FORGET_BIAS = 1.0
IGNORED_SUFFIXES = ("/Adam", "/Adam_1", "/ExponentialMovingAverage")
IGNORED_NAMES = ("global_step", "beta1_power", "beta2_power")


class CheckpointMismatch(ValueError):
    """The checkpoint lacks variables the config needs, or holds them with other shapes."""


def _lstm_name(scope: str) -> str:
    return f"{scope}/lstm_cell"


def expected_variables(config: MusicVAEConfig) -> dict[str, tuple]:
    """Magenta variable name -> shape for a config (the table of original.md §5.5, generalised)."""
    shapes = {}
    input_size = config.num_classes
    for level, units in enumerate(config.enc_rnn_size):
        for direction in ("fw", "bw"):
            cell = _lstm_name(f"encoder/cell_{level}/bidirectional_rnn/{direction}/multi_rnn_cell/cell_0")
            shapes[f"{cell}/kernel"] = (input_size + units, 4 * units)
            shapes[f"{cell}/bias"] = (4 * units,)
        input_size = 2 * units
    for name in ("mu", "sigma"):
        shapes[f"encoder/{name}/kernel"] = (input_size, config.z_size)
        shapes[f"encoder/{name}/bias"] = (config.z_size,)
    state_size = 2 * sum(config.dec_rnn_size)
    shapes["decoder/z_to_initial_state/kernel"] = (config.z_size, state_size)
    shapes["decoder/z_to_initial_state/bias"] = (state_size,)
    input_size = config.num_classes + config.z_size
    for level, units in enumerate(config.dec_rnn_size):
        cell = _lstm_name(f"decoder/multi_rnn_cell/cell_{level}")
        shapes[f"{cell}/kernel"] = (input_size + units, 4 * units)
        shapes[f"{cell}/bias"] = (4 * units,)
        input_size = units
    shapes["decoder/output_projection/kernel"] = (input_size, config.num_classes)
    shapes["decoder/output_projection/bias"] = (config.num_classes,)
    return shapes


def _is_ignored(name: str) -> bool:
    return name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES)


@contextlib.contextmanager
def checkpoint_prefix(path):
    """Yields the checkpoint prefix for a Magenta `.tar`, a folder holding one checkpoint, or a prefix."""
    import tensorflow as tf

    path = pathlib.Path(path)
    if path.is_file() and tarfile.is_tarfile(path):
        with tempfile.TemporaryDirectory(prefix="magenta_ckpt_") as tmp:
            with tarfile.open(path) as tar:
                members = [m for m in tar.getmembers() if m.isfile() and not m.name.startswith(("/", ".."))
                           and ".." not in pathlib.PurePath(m.name).parts]
                tar.extractall(tmp, members=members, filter="data")
            indexes = sorted(pathlib.Path(tmp).rglob("*.index"))
            if not indexes:
                raise ValueError(f"{path}: the archive holds no checkpoint (.index file)")
            yield str(indexes[0])[: -len(".index")]
        return
    if path.is_dir():
        latest = tf.train.latest_checkpoint(str(path))
        if latest is None:
            indexes = sorted(path.glob("*.index"))
            if len(indexes) != 1:
                raise ValueError(f"{path}: expected one checkpoint (.index file) in the folder, found {len(indexes)}")
            latest = str(indexes[0])[: -len(".index")]
        yield latest
        return
    if pathlib.Path(f"{path}.index").is_file():
        yield str(path)
        return
    if path.suffix == ".index" and path.is_file():
        yield str(path)[: -len(".index")]
        return
    raise ValueError(f"{path}: not a Magenta checkpoint (expected a .tar, a folder with a checkpoint, or a "
                     "checkpoint prefix with a .index file beside it)")


def read_variables(path, config: MusicVAEConfig) -> dict[str, np.ndarray]:
    """Reads the variables `config` needs; raises CheckpointMismatch listing every missing or mis-shaped one."""
    import tensorflow as tf

    expected = expected_variables(config)
    with checkpoint_prefix(path) as prefix:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
        problems = []
        for name, shape in expected.items():
            if name not in shapes:
                problems.append(f"missing {name} {list(shape)}")
            elif tuple(shapes[name]) != shape:
                problems.append(f"{name}: shape {list(shapes[name])}, expected {list(shape)}")
        if problems:
            unexpected = sorted(n for n in shapes if n not in expected and not _is_ignored(n))
            raise CheckpointMismatch(
                f"{path} does not match MusicVAE config {config.name!r} "
                f"(z {config.z_size}, encoder {list(config.enc_rnn_size)}, decoder {list(config.dec_rnn_size)}):\n  "
                + "\n  ".join(problems)
                + (f"\nvariables in the checkpoint that this config does not use: {unexpected[:20]}"
                   if unexpected else ""))
        return {name: reader.get_tensor(name) for name in expected}


def lstm_block_to_keras(kernel: np.ndarray, bias: np.ndarray, input_size: int):
    """LSTMBlockCell (kernel [input + units, 4u] in gate order i, j, f, o; bias without the forget bias) ->
    Keras LSTMCell (kernel [input, 4u], recurrent_kernel [units, 4u], bias [4u], order i, f, c, o)."""
    def reorder(matrix):
        i, j, f, o = np.split(matrix, 4, axis=-1)
        return np.concatenate([i, f, j, o], axis=-1)

    kernel, bias = reorder(kernel), reorder(bias).copy()
    units = bias.shape[0] // 4
    bias[units:2 * units] += MAGENTA_FORGET_BIAS
    return kernel[:input_size], kernel[input_size:], bias


def keras_to_lstm_block(kernel, recurrent_kernel, bias):
    """The inverse of `lstm_block_to_keras` (for exporting and for tests)."""
    units = bias.shape[0] // 4
    bias = np.array(bias, copy=True)
    bias[units:2 * units] -= MAGENTA_FORGET_BIAS

    def reorder(matrix):
        i, f, c, o = np.split(matrix, 4, axis=-1)
        return np.concatenate([i, c, f, o], axis=-1)

    return reorder(np.concatenate([kernel, recurrent_kernel], axis=0)), reorder(bias)


def import_checkpoint(path, config):
    """Builds a `MusicVAE` for `config` (name or MusicVAEConfig) with the weights of a Magenta checkpoint."""
    from symdiff_tf.musicvae import build_model

    if not isinstance(config, MusicVAEConfig):
        config = get_config(config)
    variables = read_variables(path, config)
    model = build_model(config)

    def set_cell(cell, scope):
        kernel, recurrent, bias = lstm_block_to_keras(
            variables[f"{scope}/kernel"], variables[f"{scope}/bias"], cell.kernel.shape[0])
        cell.kernel.assign(kernel)
        cell.recurrent_kernel.assign(recurrent)
        cell.bias.assign(bias)

    def set_dense(layer, scope):
        layer.kernel.assign(variables[f"{scope}/kernel"])
        layer.bias.assign(variables[f"{scope}/bias"])

    for level, (fw, bw) in enumerate(zip(model.encoder_fw, model.encoder_bw)):
        for direction, cell in (("fw", fw), ("bw", bw)):
            set_cell(cell, _lstm_name(f"encoder/cell_{level}/bidirectional_rnn/{direction}/multi_rnn_cell/cell_0"))
    set_dense(model.mu_dense, "encoder/mu")
    set_dense(model.sigma_dense, "encoder/sigma")
    set_dense(model.z_to_initial_state, "decoder/z_to_initial_state")
    for level, cell in enumerate(model.decoder_cells):
        set_cell(cell, _lstm_name(f"decoder/multi_rnn_cell/cell_{level}"))
    set_dense(model.output_projection, "decoder/output_projection")
    return model
