"""Shared fixtures: one torch thread, and a digits classifier trained once per session.

The smoke config runs every evaluation job on one thread (``threads_per_job``),
and the tests do the same. On a busy 2-core machine, two torch threads per
process made the classifier training about ten times slower than one.
"""

import contextlib

import pytest
import torch

from nats.defaults import EVALUATION_DEFAULTS
from nats.metrics.digits_classifier import build_classifier

RESOLUTION = 16


@contextlib.contextmanager
def single_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def one_torch_thread():
    with single_torch_thread():
        yield


@pytest.fixture(scope="session")
def classifier_build(tmp_path_factory):
    """Return (weights path, summary) of a classifier built like the smoke config builds it."""
    settings = EVALUATION_DEFAULTS["digits"]
    weights_path = tmp_path_factory.mktemp("classifier") / f"digits{RESOLUTION}.pt"
    with single_torch_thread():
        summary = build_classifier(
            RESOLUTION, settings["classifier_epochs"], settings["classifier_seed"], weights_path
        )
    return weights_path, summary


@pytest.fixture(scope="session")
def classifier_path(classifier_build):
    return classifier_build[0]
