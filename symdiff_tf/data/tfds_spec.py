"""`tfds:NAME/CONFIG[@DATA_DIR]`: a built TensorFlow Datasets dataset (`lakh_midi`) named by a `--data` option.

Used by the latent window pipeline (`symdiff_tf.data.sources.open_tfds_windows`, for `symdiff train`) and the
MusicVAE token source (`symdiff_tf.musicvae.data`, for `symdiff train-vae`).
"""
import os
import pathlib

TFDS_PREFIX = "tfds:"


def is_tfds_spec(spec) -> bool:
    return str(spec).startswith(TFDS_PREFIX)


def open_builder(spec: str):
    """A read-only TFDS builder of `tfds:NAME/CONFIG[:VERSION][@DATA_DIR]` (DATA_DIR may start with `~`; default
    TFDS's data dir), with a built train split.

    It is read from `DATA_DIR/NAME/CONFIG/VERSION` (the highest built version when none is named) with
    `tfds.builder_from_directory`: no builder code is imported (the builder, `tfds_lakh`, may import this package,
    never the reverse), and `info.metadata` is the one the build recorded. Raises ValueError naming the spec when it
    is malformed, not built, or has no train split.
    """
    if not is_tfds_spec(spec):
        raise ValueError(f"{spec!r}: expected {TFDS_PREFIX}NAME/CONFIG[@DATA_DIR]")
    import tensorflow_datasets as tfds

    name, _, data_dir = spec[len(TFDS_PREFIX):].partition("@")
    dataset, _, config = name.partition("/")
    config, _, version = config.partition(":")
    if not dataset or not config:
        raise ValueError(f"{spec!r}: expected {TFDS_PREFIX}NAME/CONFIG[@DATA_DIR], e.g. tfds:lakh_midi/tokens")
    config_dir = pathlib.Path(os.path.expanduser(data_dir) if data_dir else tfds.core.constants.DATA_DIR) / \
        dataset / config
    built = {path.name: path for path in (config_dir.iterdir() if config_dir.is_dir() else ())
             if (path / "dataset_info.json").is_file()}
    if version:
        built = {v: path for v, path in built.items() if v == version}
    if not built:
        raise ValueError(f"{spec}: no built dataset{' version ' + version if version else ''} in {config_dir}; build "
                         f"it first, e.g. tfds build {dataset} --imports tfds_lakh (docs/data.md)")
    builder = tfds.builder_from_directory(str(built[max(built, key=tfds.core.Version)]))
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
