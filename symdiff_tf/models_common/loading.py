"""Loading a trained network from a run directory for inference, without the training code: no optimizer is built
and nothing of `symdiff_tf.training` is imported.

The config comes from the run (`RUN/config.yaml`, or the artifact's copy) unless a file is given, then `--set`
overrides apply. The weights come from the inference artifact of the chosen checkpoint (`model.keras`, EMA
weights already in it), or, for runs written before artifacts existed, from the tf.train checkpoint: the model
(and the EMA shadows when the run kept them) is restored, the optimizer state is skipped. A config whose `model`
fields disagree with the trained weights is refused with one line naming the field and both values.
"""
import dataclasses
import typing

from symdiff_tf.config import ConfigError, load_section, load_yaml, to_dict
from symdiff_tf.models_common import run_dir
from symdiff_tf.models_common.precision import dtype_policy


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """How a model's network is found in a run: the config `section` that describes it (e.g. "ddpm"), the section's
    dataclass (fields `model`, `train`, ...), the Keras `model_class` (a `ConstructorConfig` model built from
    `config.model`) and the `model_name` the trainer gives it."""

    section: str
    config_class: type
    model_class: type
    model_name: str

    def build(self, config):
        """A freshly initialised network for `config` (a `config_class`)."""
        return self.model_class.from_config_dataclass(config.model, name=self.model_name)


@dataclasses.dataclass
class TrainedNetwork:
    """A network ready for inference: `config` (the section's dataclass, after overrides), `model` (with the EMA
    weights when the run kept them) and `info` (the artifact's `inference.json`; {} for older runs)."""

    config: typing.Any
    model: typing.Any
    info: dict


def check_model_config(section: str, trained: dict, requested: dict) -> None:
    """ConfigError on the first field of `requested` (the config's `model` values) that differs from `trained`
    (those the weights were made with), e.g. `ddpm.model.latent_dim: the run was trained with 254, the config says
    42`."""
    for name, value in requested.items():
        if name == "latent_dim" and value == 0:  # "from the data": whatever the run was trained with
            continue
        if name in trained and trained[name] != value:
            raise ConfigError(f"{section}.model.{name}: the run was trained with {trained[name]}, the config says "
                              f"{value}")


def load_network(spec: NetworkSpec, checkpoint, config_file=None, overrides=(),
                 precision: str = "none") -> TrainedNetwork:
    """The trained network of `spec` in `checkpoint` (see `run_dir.locate`), built under the dtype policy of
    `precision` ("none", "bfloat16" or "float16").

    `config_file`: a YAML file with the `spec.section` section; None reads the run's own resolved config.
    `overrides`: `section.key=value` strings. Raises ConfigError (one line) when no config is found or its model
    fields disagree with the weights, FileNotFoundError when `checkpoint` holds no weights.
    """
    found = run_dir.locate(checkpoint)
    config_file = config_file or found.config_file
    if config_file is None:
        raise ConfigError(f"{checkpoint}: the run holds no {run_dir.CONFIG_FILENAME}; give the config with --config")
    config = load_section(spec.config_class, config_file, spec.section, overrides)
    requested = to_dict(config.model)
    with dtype_policy(precision):
        if found.artifact is not None:
            model = _load_artifact(spec, found.artifact)
            check_model_config(spec.section, model.get_config(), requested)
            config = _with_trained_latent_dim(config, model.get_config())
        else:
            trained = (load_yaml(found.config_file).get(spec.section) or {}) if found.config_file else {}
            check_model_config(spec.section, trained.get("model") or {}, requested)
            config = _with_trained_latent_dim(config, trained.get("model") or {})
            model = spec.build(config)
            ema = (trained.get("train") or {}).get("ema", config.train.ema)
            restore_network(spec, model, found.checkpoint, ema)
    return TrainedNetwork(config, model, found.info())


def _with_trained_latent_dim(config, trained: dict):
    """`config` with `model.latent_dim` 0 ("from the data") replaced by the one the run was trained with."""
    if config.model.latent_dim != 0 or "latent_dim" not in trained:
        return config
    return dataclasses.replace(config, model=dataclasses.replace(config.model, latent_dim=int(trained["latent_dim"])))


def _load_artifact(spec: NetworkSpec, artifact):
    import keras

    path = artifact / run_dir.MODEL_FILENAME
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as err:  # keras raises many types for a missing, foreign or broken archive
        raise ConfigError(f"{path}: could not be loaded as the network of a {spec.section} run "
                          f"({_first_line(err)})") from err
    if not isinstance(model, spec.model_class):
        raise ConfigError(f"{path}: holds a {type(model).__name__}, not the {spec.model_class.__name__} of a "
                          f"{spec.section} run")
    return model


def restore_network(spec: NetworkSpec, model, checkpoint_prefix: str, ema: bool) -> None:
    """Reads the weights of `model` from a training checkpoint, the EMA ones when `ema`, skipping the optimizer.

    The trainer's checkpoint holds `model` and `optimizer`, whose EMA shadows sit at `optimizer/ema/<i>` in the
    order of `model.trainable_variables`; a stand-in module with the same attribute reads them.
    """
    import tensorflow as tf

    objects = {"model": model}
    if ema:
        shadows = tf.Module(name="ema_shadows")
        shadows.ema = [tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False) for v in model.trainable_variables]
        objects["optimizer"] = shadows
    try:
        status = tf.train.Checkpoint(**objects).restore(checkpoint_prefix)
        status.expect_partial()
        status.assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as err:
        raise ConfigError(f"{checkpoint_prefix}: the checkpoint does not fit the config's {spec.section}.model "
                          f"({_first_line(err)})") from err
    if ema:
        for variable, shadow in zip(model.trainable_variables, shadows.ema):
            variable.assign(shadow)


def _first_line(err: BaseException) -> str:
    """The first line of a library's error message (its type when it has none), for a one-line error of ours."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
