"""Keras config from constructor arguments, for models whose config *is* their arguments (TransformerDDPM,
TransformerMDN)."""
import dataclasses


class ConstructorConfig:
    """Mixin for a Keras model or layer: derives `get_config`, `from_config` and `from_config_dataclass` from
    the names in `CONFIG_ARGUMENTS`, which `store_arguments` keeps as attributes.

    Use: `class Net(ConstructorConfig, keras.Model)` with `CONFIG_ARGUMENTS = ("latent_dim", ...)`, and
    `self.store_arguments(locals())` in `__init__` after `super().__init__(...)`. The config dataclass given to
    `from_config_dataclass` has exactly these fields.
    """

    CONFIG_ARGUMENTS: tuple[str, ...] = ()

    def store_arguments(self, arguments: dict) -> None:
        """Sets each `CONFIG_ARGUMENTS` name as an attribute from `arguments` (the constructor's `locals()`)."""
        missing = [name for name in self.CONFIG_ARGUMENTS if name not in arguments]
        if missing:
            raise TypeError(f"{type(self).__name__}: constructor arguments {missing} not given to store_arguments")
        for name in self.CONFIG_ARGUMENTS:
            setattr(self, name, arguments[name])

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                **{name: getattr(self, name) for name in self.CONFIG_ARGUMENTS}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def from_config_dataclass(cls, config, **kwargs):
        """The model of a config dataclass (its fields are the constructor arguments); `kwargs` e.g. `name`."""
        return cls(**dataclasses.asdict(config), **kwargs)
