"""MusicVAE configurations: model shapes and training hyperparameters (original.md §5.1).

`CONFIGS` holds Magenta's `cat-mel_2bar_big` and `cat-mel_2bar_small` with Magenta's values, and tiny ones
for tests. A YAML file may define its own under a `musicvae:` section (`MusicVAEConfig` fields; unknown keys
are errors) — see `config_from_yaml`.
"""
from __future__ import annotations

import dataclasses

from symdiff_tf.config import ConfigError, from_dict, load_yaml

NUM_CLASSES = 90  # 0 = no event (hold), 1 = note off, 2 + (pitch - 21) = note on, pitch 21..108
SEQ_LEN = 32  # 2 bars of 16 sixteenth-note steps
LATENT_INITS = ("magenta", "fast")


@dataclasses.dataclass(frozen=True)
class MusicVAEConfig:
    """One MusicVAE: shapes (must match a checkpoint) and training hyperparameters (Magenta's names).

    `enc_rnn_size` lists the bidirectional encoder layers (units per direction; several = stacked as
    Magenta's `stack_bidirectional_dynamic_rnn`), `dec_rnn_size` the decoder's stacked LSTM layers.
    """
    name: str
    z_size: int
    enc_rnn_size: tuple = (2048,)
    dec_rnn_size: tuple = (2048, 2048, 2048)
    max_seq_len: int = SEQ_LEN
    num_classes: int = NUM_CLASSES
    # training (Magenta hparams; get_default_hparams + the config's overrides)
    batch_size: int = 512
    free_bits: float = 0.0  # bits per sequence excluded from the KL cost
    max_beta: float = 1.0
    beta_rate: float = 0.0  # beta = (1 - beta_rate ** step) * max_beta
    sampling_schedule: str = "inverse_sigmoid"  # "inverse_sigmoid", "constant" or "" (teacher forcing)
    sampling_rate: float = 1000.0
    learning_rate: float = 1e-3
    decay_rate: float = 0.9999
    min_learning_rate: float = 1e-5
    grad_clip: float = 1.0  # global-norm clip
    grad_norm_clip_to_zero: float = 10000.0  # a larger global norm skips the step (zero gradients), as Magenta
    transpose_range: tuple = (-5, 5)  # augmentation, semitones (inclusive)
    # not Magenta's: share of decoder inputs replaced by the zero input in training ("word dropout"), which makes
    # the decoder use z from the first steps (docs/musicvae.md, "A recipe that learns in hours")
    word_dropout: float = 0.0
    # "magenta": mu, sigma and the initial-state layer start at N(0, 0.001) kernels (sigma ~ 0.69, z ~ noise);
    # "fast": Glorot kernels for mu and the initial state, sigma's bias at -4 (sigma ~ 0.018), so that z carries
    # the chunk from the first step and the decoder learns to read it (not Magenta's; docs/musicvae.md)
    latent_init: str = "magenta"
    # precision of the training step's large matrix products (`MusicVAE.training_weights`); "bfloat16" is faster
    # only on CPUs with native bfloat16 (avx512_bf16 / amx_bf16); the variables stay float32 either way
    train_precision: str = "float32"

    def __post_init__(self):
        if self.latent_init not in LATENT_INITS:
            raise ConfigError(f"musicvae config {self.name}: latent_init={self.latent_init!r}, expected one of "
                              f"{LATENT_INITS}")
        if self.train_precision not in ("float32", "bfloat16"):
            raise ConfigError(f"musicvae config {self.name}: train_precision={self.train_precision!r}, expected "
                              "'float32' or 'bfloat16'")
        if not 0.0 <= self.word_dropout < 1.0:
            raise ConfigError(f"musicvae config {self.name}: word_dropout={self.word_dropout}, expected [0, 1)")

    def model_kwargs(self) -> dict:
        """The constructor arguments of `symdiff_tf.musicvae.model.MusicVAE` for this config."""
        return dict(z_size=self.z_size, enc_rnn_size=list(self.enc_rnn_size), dec_rnn_size=list(self.dec_rnn_size),
                    max_seq_len=self.max_seq_len, num_classes=self.num_classes, config_name=self.name)


CONFIGS = {
    "cat-mel_2bar_big": MusicVAEConfig(
        name="cat-mel_2bar_big", z_size=512, enc_rnn_size=(2048,), dec_rnn_size=(2048, 2048, 2048),
        max_beta=0.5, beta_rate=0.99999),
    "cat-mel_2bar_small": MusicVAEConfig(
        name="cat-mel_2bar_small", z_size=256, enc_rnn_size=(512,), dec_rnn_size=(256, 256),
        max_beta=0.2, beta_rate=0.99999),
    # tests: a stacked encoder (as Magenta supports) and a small decoder; trains in seconds
    "tiny": MusicVAEConfig(
        name="tiny", z_size=8, enc_rnn_size=(24, 16), dec_rnn_size=(20, 12), batch_size=16,
        max_beta=0.2, beta_rate=0.99, sampling_rate=10.0, learning_rate=3e-3, decay_rate=0.999),
    "tiny-single": MusicVAEConfig(
        name="tiny-single", z_size=6, enc_rnn_size=(16,), dec_rnn_size=(16,), batch_size=16,
        max_beta=0.2, beta_rate=0.99, sampling_schedule="", learning_rate=3e-3, decay_rate=0.999),
}


def get_config(name_or_path: str, overrides: dict | None = None) -> MusicVAEConfig:
    """A config by name (`CONFIGS`) or from a YAML file's `musicvae:` section, with optional field overrides."""
    if name_or_path in CONFIGS:
        config = CONFIGS[name_or_path]
    elif str(name_or_path).endswith((".yaml", ".yml")):
        config = config_from_yaml(name_or_path)
    else:
        raise ConfigError(f"unknown MusicVAE config {name_or_path!r}; known: {sorted(CONFIGS)} or a .yaml file")
    if overrides:
        values = dataclasses.asdict(config)
        values.update(overrides)
        config = from_dict(MusicVAEConfig, values, where=f"musicvae config {config.name}")
    return config


def config_from_yaml(path) -> MusicVAEConfig:
    """Reads the `musicvae:` section of a YAML file; `base:` names a config in `CONFIGS` to start from."""
    data = load_yaml(path)
    if "musicvae" not in data:
        raise ConfigError(f"{path}: no `musicvae:` section")
    section = dict(data["musicvae"] or {})
    base = section.pop("base", None)
    if base and base not in CONFIGS:
        raise ConfigError(f"{path}: musicvae.base {base!r} is not one of {sorted(CONFIGS)}")
    values = dataclasses.asdict(CONFIGS[base]) if base else {}
    values.update(section)
    values.setdefault("name", str(path))
    return from_dict(MusicVAEConfig, values, where=f"{path}: musicvae")
