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
