"""Shared fixtures for the pytensor-onnx test suite."""

import numpy as np
import pytensor
import pytest


@pytest.fixture(scope="session", autouse=True)
def configure_pytensor():
    # No C compiler needed: the reference results come from PyTensor's Python linker.
    with pytensor.config.change_flags(cxx=""):
        yield


@pytest.fixture
def rng():
    """Seeded random number generator."""
    return np.random.default_rng(42)
