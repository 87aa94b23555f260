"""The model registry: config section name → `ModelSpec` (config dataclass + task builder).

A model registers by adding one line to `MODELS` naming the module that defines its `MODEL_SPEC`; the module is
imported only when the model is used, so this file stays cheap. A spec's config dataclass has a `train:
TrainConfig` field, and `build_task(config)` returns a `symdiff_tf.training.TrainingTask` whose `model` is built.
"""
import dataclasses
import importlib
import typing

# section name in the config file → module that defines MODEL_SPEC
MODELS = {
    "ddpm": "symdiff_tf.diffusion.task",
    "mdn": "symdiff_tf.mdn.task",
}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    config_class: type
    build_task: typing.Callable


def get_spec(name: str) -> ModelSpec:
    """The `ModelSpec` of model `name` (a key of `MODELS`)."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; registered: {sorted(MODELS)}")
    return importlib.import_module(MODELS[name]).MODEL_SPEC


def load_model_config(name: str, config_file, overrides=()) -> typing.Any:
    """Reads section `name` of a YAML config file into the model's config dataclass (unknown keys are errors).

    `overrides` are `section.key=value` strings (`symdiff_tf.config.apply_overrides`).
    """
    from symdiff_tf.config import load_section
    return load_section(get_spec(name).config_class, config_file, name, overrides)
