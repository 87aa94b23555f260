"""The model registry: config section name → `ModelSpec` (config dataclass + task builder).

A model registers by adding one line to `MODELS` naming its task class as `module:Class`; the module is imported
only when the model is used, so this file stays cheap. The task class has a `CONFIG_CLASS` (the section's
dataclass, with a `train: TrainConfig` field) and is built from one: `Task(config)` is a
`symdiff_tf.training.loop.TrainingTask` whose `model` is built. The registry lives here, not beside the models,
so that the models never import the training package.
"""
import dataclasses
import importlib
import typing

# section name in the config file → its task class
MODELS = {
    "ddpm": "symdiff_tf.diffusion.task:DDPMTask",
    "mdn": "symdiff_tf.mdn.task:MDNTask",
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
    module_name, _, class_name = MODELS[name].partition(":")
    task_class = getattr(importlib.import_module(module_name), class_name)
    return ModelSpec(name=name, config_class=task_class.CONFIG_CLASS, build_task=task_class)


def load_model_config(name: str, config_file, overrides=()) -> typing.Any:
    """Reads section `name` of a YAML config file into the model's config dataclass (unknown keys are errors).

    `overrides` are `section.key=value` strings (`symdiff_tf.config.apply_overrides`).
    """
    from symdiff_tf.config import load_section
    return load_section(get_spec(name).config_class, config_file, name, overrides)
