"""Fixtures shared by the whole test tree."""

import pytest
import torch

from nats.data import load_digits, load_mixture


@pytest.fixture(scope="session")
def digits():
    return load_digits(resolution=16)


@pytest.fixture(scope="session")
def ring8():
    return load_mixture("ring8", num_points=2000)


@pytest.fixture
def cpu():
    return torch.device("cpu")
