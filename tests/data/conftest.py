"""Fixtures of the image dataset tests: a data root with every source, and a network guard."""

import socket
import urllib.request

import pytest

from image_files import NetworkAccessed, write_celeba, write_cifar10, write_image_folder, write_lsun_folders, write_mnist, write_stl10, write_svhn


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """A data root with every torchvision-layout source; returns (root, the pixels or files written)."""
    root = tmp_path_factory.mktemp("image_data")
    written = {
        "cifar10": write_cifar10(root),
        "stl10": write_stl10(root),
        "svhn": write_svhn(root),
        "mnist": write_mnist(root),
        "celeba": write_celeba(root),
        "lsun": write_lsun_folders(root),
    }
    return root, written


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("image_folder") / "pets"
    return folder, write_image_folder(folder)


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test on any attempt to open a network connection or URL."""

    def reject_connection(*args, **kwargs):
        raise NetworkAccessed(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", reject_connection)
    monkeypatch.setattr(socket, "create_connection", reject_connection)
    monkeypatch.setattr(urllib.request, "urlopen", reject_connection)
