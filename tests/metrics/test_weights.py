"""Whether a weights file is the published one: sha256 prefix, stand-in marker, or unknown."""

import pytest
import torch

from nats.metrics.weights import (
    CLEANFID_WEIGHTS,
    TORCH_FIDELITY_WEIGHTS,
    check_published_weights,
    file_sha256,
    write_random_cleanfid_weights,
    write_random_torch_fidelity_weights,
)


@pytest.fixture(scope="module")
def cleanfid_stand_in(tmp_path_factory):
    return write_random_cleanfid_weights(tmp_path_factory.mktemp("weights") / "cleanfid.pt")


def test_torch_fidelity_stand_in_not_published(tmp_path):
    path = write_random_torch_fidelity_weights(tmp_path / "inception.pth")

    published, reason = check_published_weights(TORCH_FIDELITY_WEIGHTS, path, file_sha256(path))

    assert published is False
    assert "does not start with 6726825d" in reason


def test_torch_fidelity_published_prefix_accepted(tmp_path):
    path = tmp_path / "weights.pth"
    path.write_bytes(b"any bytes")

    published, reason = check_published_weights(TORCH_FIDELITY_WEIGHTS, path, "6726825d" + "0" * 56)

    assert published is True
    assert "starts with 6726825d" in reason


def test_cleanfid_stand_in_not_published(cleanfid_stand_in):
    published, reason = check_published_weights(CLEANFID_WEIGHTS, cleanfid_stand_in, file_sha256(cleanfid_stand_in))

    assert published is False
    assert "random stand-in" in reason


def test_cleanfid_file_without_marker_is_unknown(cleanfid_stand_in, tmp_path):
    # The same network saved again loses the marker; clean-fid publishes no
    # hash, so nothing can tell it from the real file.
    resaved = tmp_path / "resaved.pt"
    torch.jit.save(torch.jit.load(cleanfid_stand_in), resaved)

    published, reason = check_published_weights(CLEANFID_WEIGHTS, resaved, file_sha256(resaved))

    assert published is None
    assert "publishes no sha256" in reason
