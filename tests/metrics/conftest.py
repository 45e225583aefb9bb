"""Shared fixture: one torch thread for every metrics test.

The smoke config runs every evaluation job on one thread (``threads_per_job``),
and the tests do the same. On a busy 2-core machine, two torch threads per
process made the classifier training about ten times slower than one.
"""

import contextlib

import pytest
import torch



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
