"""Shared test fixtures: where the real MIDI lives, and small helpers."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from symdiff_tf.paths import shared_data_dir


@pytest.fixture(scope="session")
def shared_data():
    """`../shared/data` (POP909 and a Lakh sample). CI has it beside the checkout; its absence is an error."""
    path = shared_data_dir()
    assert path.is_dir(), f"shared data not found at {path}; set SYMDIFF_SHARED_DATA"
    return path


@pytest.fixture(scope="session")
def pop909_dir(shared_data):
    return shared_data / "pop909" / "midi"


@pytest.fixture(scope="session")
def lakh_dir(shared_data):
    return shared_data / "lakh_clean_mini"


TINY_KEPT_DIMS = (0, 2, 5, 6)  # of the tiny VAE's 8 latent dims; the other four are refilled before decoding


def make_tiny_run(root):
    """A tiny MusicVAE file and a diffusion run trained for 2 steps by `symdiff train` (configs/tiny.yaml: 20
    diffusion steps), with its latent scaling. Returns (vae path, run directory)."""
    import keras
    import numpy as np

    from symdiff_tf import cli, musicvae
    from symdiff_tf.data.scaler import LatentScaler
    from symdiff_tf.data.sources import synthetic_windows
    from symdiff_tf.melody.chunks import NUM_CLASSES
    from symdiff_tf.paths import REPO_ROOT

    keras.utils.set_random_seed(3)
    vae = musicvae.build_model("tiny")
    rng = np.random.default_rng(4)
    for variable in vae.trainable_variables:  # large weights: every latent decodes to another melody
        variable.assign(rng.normal(0.0, 1.0, variable.shape).astype(np.float32))
    more_holds = np.eye(NUM_CLASSES, dtype=np.float32)[0] * 3.0  # "no event" often: notes of many lengths
    vae.output_projection.bias.assign(vae.output_projection.bias + more_holds)
    vae.save(root / "vae.keras")
    data = root / "windows.npz"
    np.savez(data, train=synthetic_windows(24, len(TINY_KEPT_DIMS), seed=2))
    run = root / "ddpm"
    assert cli.main(["train", "--config", str(REPO_ROOT / "configs" / "tiny.yaml"), "--data", str(data),
                     "--workdir", str(run), "--max-steps", "2", "--no-progress",
                     "--set", f"ddpm.model.latent_dim={len(TINY_KEPT_DIMS)}"]) == 0
    LatentScaler(TINY_KEPT_DIMS, z_size=vae.z_size, minimum=-2.5, maximum=2.0).save(run)
    return root / "vae.keras", run


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """(vae path, run directory) of `make_tiny_run`, made once per test session (per xdist worker) and shared by
    every module that generates: do not write into it."""
    return make_tiny_run(tmp_path_factory.mktemp("tiny_run"))
