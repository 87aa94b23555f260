"""TFDS builder `lakh_midi` (Lakh MIDI melodies as 2-bar tokens and MusicVAE latents). Importing registers it."""
from tfds_lakh.lakh_midi_dataset_builder import Builder, LakhMidiConfig, ManualDataError, make_config

__all__ = ["Builder", "LakhMidiConfig", "ManualDataError", "make_config"]
