"""`tfds:NAME/CONFIG[@DATA_DIR]`: a built TensorFlow Datasets dataset (`lakh_midi`) named by a `--data` option.

Used by the latent window pipeline (`symdiff_tf.data.sources.open_tfds_windows`, for `symdiff train`) and the
MusicVAE token source (`symdiff_tf.musicvae.data`, for `symdiff train-vae`).
"""
import os

TFDS_PREFIX = "tfds:"


def is_tfds_spec(spec) -> bool:
    return str(spec).startswith(TFDS_PREFIX)


def open_builder(spec: str):
    """The TFDS builder of `tfds:NAME/CONFIG[@DATA_DIR]` (DATA_DIR may start with `~`), with a built train split.

    Raises ValueError naming the spec when it is malformed or its train split has not been built.
    """
    if not is_tfds_spec(spec):
        raise ValueError(f"{spec!r}: expected {TFDS_PREFIX}NAME/CONFIG[@DATA_DIR]")
    import tensorflow_datasets as tfds

    import tfds_lakh  # noqa: F401 - registers lakh_midi

    name, _, data_dir = spec[len(TFDS_PREFIX):].partition("@")
    if not name:
        raise ValueError(f"{spec!r}: expected {TFDS_PREFIX}NAME/CONFIG[@DATA_DIR], e.g. tfds:lakh_midi/tokens")
    builder = tfds.builder(name, data_dir=os.path.expanduser(data_dir) if data_dir else None)
    splits = set(builder.info.splits)
    if "train" not in splits:
        raise ValueError(f"{spec}: no train split (built: {sorted(splits)}) in {builder.data_dir}; build it with "
                         "tfds.builder(...).download_and_prepare() first (docs/data.md)")
    return builder


def recorded_vae_hash(spec: str) -> str | None:
    """The content hash of the MusicVAE that made the latents of `spec` (`config.vae_hash` in the dataset's
    metadata; None for tokens-only configs and for datasets built before the hash was recorded)."""
    return (open_builder(spec).info.metadata.get("config") or {}).get("vae_hash")


def recorded_vae_path(spec: str) -> str | None:
    """The MusicVAE file the latent config of `spec` was encoded with, as its builder recorded it in the dataset's
    metadata (`config.vae`); None for a config without latents."""
    return (open_builder(spec).info.metadata.get("config") or {}).get("vae")
