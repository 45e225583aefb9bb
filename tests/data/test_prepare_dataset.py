"""nats-bench prepare-data: the check that runs once per image dataset before training."""

import json

import pytest

from image_files import CIFAR10_BATCH_SIZES
from nats.cli import EXIT_INVALID_INPUT, main


def test_prepared_dataset_manifest_counts_the_training_images(data_root, no_network, tmp_path):
    root, _ = data_root
    manifest_file = tmp_path / "datasets" / "cifar10.json"
    settings = {"name": "cifar10", "source": "cifar10", "data_root": str(root), "download": False, "resolution": 32}

    status = main(["prepare-data", "--dataset", "cifar10", "--settings", json.dumps(settings), "--out", str(manifest_file)])

    assert status == 0
    manifest = json.loads(manifest_file.read_text())
    assert manifest["num_images"] == sum(CIFAR10_BATCH_SIZES)
    assert manifest["official_num_images"] == 50000
    assert manifest["split"] == "train"
    assert any(path.endswith("data_batch_1") for path in manifest["files"])


def test_missing_dataset_fails_with_the_expected_path(no_network, tmp_path, capsys):
    settings = {"source": "svhn", "data_root": str(tmp_path / "nowhere"), "download": False, "resolution": 32}
    manifest_file = tmp_path / "svhn.json"

    status = main(["prepare-data", "--dataset", "svhn", "--settings", json.dumps(settings), "--out", str(manifest_file)])

    message = capsys.readouterr().err
    assert status == EXIT_INVALID_INPUT
    assert str(tmp_path / "nowhere" / "svhn" / "train_32x32.mat") in message
    assert "download" in message
    assert not manifest_file.exists()


@pytest.mark.parametrize("source", ["celeba", "lsun-church"])
def test_dataset_that_needs_a_manual_download_says_so(no_network, tmp_path, capsys, source):
    settings = {"source": source, "data_root": str(tmp_path), "download": True, "resolution": 64}

    status = main(["prepare-data", "--dataset", source, "--settings", json.dumps(settings), "--out", str(tmp_path / "m.json")])

    message = capsys.readouterr().err
    assert status == EXIT_INVALID_INPUT
    assert str(tmp_path) in message


def test_imagefolder_path_that_is_a_file_says_so(tmp_path, capsys):
    archive = tmp_path / "shapes.npz"
    archive.write_bytes(b"not a folder")
    settings = {"source": "imagefolder", "path": str(archive), "resolution": 32}

    status = main(["prepare-data", "--dataset", "shapes", "--settings", json.dumps(settings), "--out", str(tmp_path / "m.json")])

    message = capsys.readouterr().err
    assert status == EXIT_INVALID_INPUT
    assert "is a file, not a folder of images" in message
    assert "source: npz" in message


def test_missing_dataset_names_resolved_root(no_network, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = {"source": "cifar10", "data_root": "data", "download": False, "resolution": 32}

    main(["prepare-data", "--dataset", "cifar10", "--settings", json.dumps(settings), "--out", str(tmp_path / "m.json")])

    message = capsys.readouterr().err
    assert f"data_root 'data' resolves to {str(tmp_path / 'data')!r}" in message


def test_float_npz_without_negative_values_is_flagged(tmp_path, caplog):
    import numpy as np

    archive = tmp_path / "unit-range.npz"
    np.savez(archive, images=np.random.default_rng(0).random((5, 8, 8, 3)).astype(np.float32))
    settings = {"source": "npz", "path": str(archive), "resolution": 8}

    status = main(["prepare-data", "--dataset", "unit", "--settings", json.dumps(settings), "--out", str(tmp_path / "m.json")])

    assert status == 0
    assert "rescale them to 2 * x - 1" in caplog.text
