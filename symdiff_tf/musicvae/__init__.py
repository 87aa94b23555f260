"""MusicVAE 2-bar melody model in Keras 3: model, Magenta checkpoint import, training, fast decoding.

Cheap to import: TensorFlow and Keras load on first use of `load`, `build_model` or the submodules.

    model = symdiff_tf.musicvae.load("saved_models/cat-mel_2bar_big.keras")
    mu, sigma = model.encode(tokens)          # tokens [batch, 32] int 0..89 -> [batch, z_size] each
    tokens = model.decode(z, temperature=0.0)  # greedy; temperature > 0 samples (seed=...)
"""
from symdiff_tf.musicvae.configs import CONFIGS, NUM_CLASSES, SEQ_LEN, MusicVAEConfig, get_config


def build_model(config):
    """A freshly initialised `MusicVAE` for a config name, path or `MusicVAEConfig`."""
    from symdiff_tf.musicvae.model import MusicVAE

    if not isinstance(config, MusicVAEConfig):
        config = get_config(config)
    return MusicVAE(**config.model_kwargs(), name="musicvae")


def load(path):
    """Loads a MusicVAE saved as `.keras` (by `symdiff import-magenta`, `symdiff train-vae` or `model.save`).

    Raises ValueError naming the file when it is missing, not a `.keras` archive, or holds another model.
    """
    import pathlib

    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such MusicVAE file (expected a .keras file from `symdiff import-magenta` "
                         "or `symdiff train-vae`)")
    if path.suffix != ".keras":
        raise ValueError(f"{path}: expected a .keras file; for a Magenta checkpoint run "
                         "`symdiff import-magenta CHECKPOINT --config NAME --out FILE.keras` first")
    import keras

    from symdiff_tf.musicvae.model import MusicVAE

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as err:  # keras raises many types for foreign or broken archives
        raise ValueError(f"{path}: could not be loaded as a MusicVAE: {type(err).__name__}: {err}") from err
    if not isinstance(model, MusicVAE):
        raise ValueError(f"{path}: holds a {type(model).__name__}, not a MusicVAE")
    return model


__all__ = ["CONFIGS", "NUM_CLASSES", "SEQ_LEN", "MusicVAEConfig", "build_model", "get_config", "load"]
