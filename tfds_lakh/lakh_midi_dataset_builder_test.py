"""DatasetBuilderTestCase for lakh_midi on `dummy_data/` (6 tiny MIDI files; see make_dummy_data.py).

Expected split counts, both configs (one example = one melody with at least one 2-bar chunk):
- train 4: `Long Song` gives 1 (piano; its drum track gives no melody), `Two Parts` 2 (lead, bass), `Waltz` 1;
  `Drums Only` (no melody) and `Truncated` (unreadable) are skipped and counted.
- validation 1: `Validation Song`, whose MD5 falls in the 1% bucket of the hash split (made so on purpose).
"""
import pathlib
import tempfile

import tensorflow_datasets as tfds

import tfds_lakh
from tfds_lakh import lakh_midi_dataset_builder as lakh



def write_tiny_vae(path):
    """A freshly initialised tiny MusicVAE (z_size 8) saved as `.keras`: enough to exercise the latent configs."""
    from symdiff_tf import musicvae

    path = pathlib.Path(path)
    if not path.exists():
        musicvae.build_model("tiny").save(path)
    return path


_VAE_DIR = pathlib.Path(tempfile.mkdtemp(prefix="lakh_midi_test_vae_"))
# the config is named after the VAE's content hash, so the file must exist first
TINY_VAE_CONFIG = lakh.make_config(vae=str(write_tiny_vae(_VAE_DIR / "tiny_vae.keras")), encode_batch_size=8)


class LakhMidiTokensTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = tfds_lakh.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["tokens"]
    SPLITS = {"train": 4, "validation": 1}


class LakhMidiLatentsTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = tfds_lakh.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = [TINY_VAE_CONFIG]
    SPLITS = {"train": 4, "validation": 1}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        write_tiny_vae(TINY_VAE_CONFIG.vae)


if __name__ == "__main__":
    tfds.testing.test_main()
