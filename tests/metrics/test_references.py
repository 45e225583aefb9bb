"""Image sets read from folders and .npz files, broken ones included."""

import numpy as np
import pytest
from PIL import Image

from nats.metrics.references import UnreadableImageFile, load_image_set


def write_images(folder, count=3):
    folder.mkdir()
    for index in range(count):
        Image.fromarray(np.full((8, 8, 3), index * 40, dtype=np.uint8)).save(folder / f"{index}.png")
    return folder


def test_folder_of_images_loads_in_range(tmp_path):
    images = load_image_set(write_images(tmp_path / "images"))
    assert tuple(images.shape) == (3, 3, 8, 8)
    assert images.min() >= -1.0
    assert images.max() <= 1.0


def test_corrupt_image_file_is_named(tmp_path):
    folder = write_images(tmp_path / "images")
    broken = folder / "1.png"
    broken.write_bytes(broken.read_bytes()[:20])

    with pytest.raises(UnreadableImageFile, match="1.png"):
        load_image_set(folder)


def test_file_that_is_not_an_image_is_named(tmp_path):
    folder = write_images(tmp_path / "images")
    (folder / "notes.png").write_text("not an image")

    with pytest.raises(UnreadableImageFile, match="notes.png"):
        load_image_set(folder)


def test_truncated_npz_is_named(tmp_path):
    path = tmp_path / "images.npz"
    np.savez(path, images=np.zeros((4, 8, 8, 3), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:50])

    with pytest.raises(UnreadableImageFile, match="images.npz"):
        load_image_set(path)
