"""Typed configuration: YAML files mapped onto dataclasses, where an unknown key is an error.

Each subsystem defines its own dataclass (for example `symdiff_tf.diffusion.config.DDPMConfig`); a config
file such as `configs/paper.yaml` holds one top-level section per subsystem.
"""
import dataclasses
import pathlib
import typing

import yaml


class ConfigError(ValueError):
    """A configuration file or section does not match its dataclass."""


def load_yaml(path) -> dict:
    """Reads a YAML config file into a dict, naming the file in any error."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return data


def from_dict(cls, values: dict | None, where: str = "config"):
    """Builds dataclass `cls` from `values`; unknown keys raise `ConfigError` naming `where`.

    Nested dataclass fields are built recursively from nested mappings; tuples given as lists are converted.
    """
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = from_dict(hint, value, f"{where}.{name}")
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def to_dict(config) -> dict:
    """The inverse of `from_dict`, for saving the resolved config beside checkpoints (tuples become lists, which
    YAML's safe dumper can write)."""
    return _lists_for_tuples(dataclasses.asdict(config))


def _lists_for_tuples(value):
    if isinstance(value, dict):
        return {key: _lists_for_tuples(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists_for_tuples(item) for item in value]
    return value


def load_section(cls, config_file, section: str, overrides=(), required: bool = True):
    """Section `section` of a YAML config file, after `section.key=value` overrides, as dataclass `cls`.

    A missing section is a `ConfigError` when `required`, else `cls()` with its defaults.
    """
    sections = apply_overrides(load_yaml(config_file), list(overrides))
    if section not in sections:
        if required:
            raise ConfigError(f"{config_file}: no '{section}:' section (sections: {sorted(sections)})")
        return cls()
    return from_dict(cls, sections[section], f"{config_file}:{section}")


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Applies command-line overrides `section.key=value` (value parsed as YAML) to a config dict."""
    values = dict(values)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. ddpm.num_layers=2")
        dotted, raw = item.split("=", 1)
        node = values
        *parents, leaf = dotted.split(".")
        for key in parents:
            node[key] = dict(node.get(key) or {})
            node = node[key]
        node[leaf] = yaml.safe_load(raw)
    return values
