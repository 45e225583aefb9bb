"""Fixtures shared by the whole test tree."""

import pytest
import torch

from nats.data import load_digits, load_mixture
from nats.defaults import EVALUATION_DEFAULTS
from nats.metrics.digits_classifier import build_classifier

RESOLUTION = 16


def pytest_configure(config):
    # The nets under test are small: one thread per process is faster than
    # two on a 2-core machine, and it matches threads_per_job of the configs.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits():
    return load_digits(resolution=16)


@pytest.fixture(scope="session")
def ring8():
    return load_mixture("ring8", num_points=2000)


@pytest.fixture
def cpu():
    return torch.device("cpu")


@pytest.fixture(scope="session")
def classifier_build(tmp_path_factory):
    """Return (weights path, summary) of a classifier built like the smoke config builds it."""
    settings = EVALUATION_DEFAULTS["digits"]
    weights_path = tmp_path_factory.mktemp("classifier") / f"digits{RESOLUTION}.pt"
    summary = build_classifier(RESOLUTION, settings["classifier_epochs"], settings["classifier_seed"], weights_path)
    return weights_path, summary


@pytest.fixture(scope="session")
def classifier_path(classifier_build):
    return classifier_build[0]
