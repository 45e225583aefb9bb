"""Image sources, their defaults, and the settings a run gives them."""

import logging
from pathlib import Path

logger = logging.getLogger(__name__)

IMAGE_SOURCES = ("cifar10", "stl10", "celeba", "lsun-bedroom", "lsun-church", "mnist", "svhn", "imagefolder", "npz")

# Facts about each source:
# - resolution: default side of the square training images (None: the
#   images' own size, the shorter side of the first image of a folder);
# - channels: 1 or 3 (None: taken from the file);
# - training_parts: the torchvision splits or LSUN databases that make up
#   the training set, in the order they are concatenated;
# - training_set_size: image count of the training set in the official release;
# - splits: image count of each split that load_reference_images accepts,
#   where "train" is the training set;
# - downloadable: whether torchvision can download the files.
IMAGE_SOURCE_DEFAULTS = {
    "cifar10": {
        "resolution": 32,
        "channels": 3,
        "training_parts": ("train",),
        "training_set_size": 50000,
        "splits": {"train": 50000, "test": 10000},
        "downloadable": True,
    },
    "stl10": {
        "resolution": 48,
        "channels": 3,
        "training_parts": ("train", "unlabeled"),
        "training_set_size": 105000,
        "splits": {"train": 105000, "test": 8000, "unlabeled": 100000},
        "downloadable": True,
    },
    "celeba": {
        "resolution": 64,
        "channels": 3,
        "training_parts": ("train",),
        "training_set_size": 162770,
        "splits": {"train": 162770, "valid": 19867, "test": 19962, "all": 202599},
        "downloadable": True,
    },
    "lsun-bedroom": {
        "resolution": 64,
        "channels": 3,
        "training_parts": ("bedroom_train",),
        "training_set_size": 3033042,
        "splits": {"train": 3033042, "val": 300},
        "downloadable": False,
    },
    "lsun-church": {
        "resolution": 64,
        "channels": 3,
        "training_parts": ("church_outdoor_train",),
        "training_set_size": 126227,
        "splits": {"train": 126227, "val": 300},
        "downloadable": False,
    },
    "mnist": {
        "resolution": 32,
        "channels": 1,
        "training_parts": ("train",),
        "training_set_size": 60000,
        "splits": {"train": 60000, "test": 10000},
        "downloadable": True,
    },
    "svhn": {
        "resolution": 32,
        "channels": 3,
        "training_parts": ("train", "extra"),
        "training_set_size": 604388,
        "splits": {"train": 604388, "test": 26032},
        "downloadable": True,
    },
    "imagefolder": {
        "resolution": None,
        "channels": 3,
        "training_parts": ("train",),
        "training_set_size": None,
        "splits": {"train": None},
        "downloadable": False,
    },
    "npz": {
        "resolution": None,
        "channels": None,
        "training_parts": ("train",),
        "training_set_size": None,
        "splits": {"train": None},
        "downloadable": False,
    },
}

DEFAULT_DATA_ROOT = "data"
IN_MEMORY_CHOICES = ("auto", True, False)

# With in_memory "auto", a training set whose uint8 tensor is smaller than
# this is kept in memory on the training device. At the default resolutions
# every source fits except LSUN bedroom (about 37 GiB at 64x64).
IN_MEMORY_MAX_BYTES = 4 * 2**30

# Side of the centred square cut from CelebA's 178x218 aligned faces before
# resizing. The square keeps the face and drops most of the background, and
# CenterCrop(140) then Resize(64) is a common CelebA 64x64 setting in public
# GAN and score-model code.
CELEBA_CENTER_CROP = 140


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are missing from the place its settings name."""


def resolve_image_settings(source: str, settings: dict | None) -> dict:
    """Fill in the defaults of an image source's settings and check them.

    Args:
        source: one of ``IMAGE_SOURCES``.
        settings: the dataset settings of a run. Read keys: ``data_root``,
            ``download``, ``resolution``, ``in_memory``, ``path``,
            ``npz_key`` and ``center_crop`` (CelebA); other keys, such as
            ``name`` or ``batch_size``, are ignored.

    Returns:
        A new dict with exactly the keys above plus ``source``.

    Raises:
        ValueError: for an unknown source or a setting of the wrong type or range.
    """
    if source not in IMAGE_SOURCES:
        raise ValueError(f"unknown image source {source!r}; expected one of {', '.join(IMAGE_SOURCES)}")
    settings = settings or {}
    defaults = IMAGE_SOURCE_DEFAULTS[source]

    resolution = settings.get("resolution")
    if resolution is None:
        resolution = defaults["resolution"]
    if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 8):
        raise ValueError(f"resolution of {source} must be an integer of at least 8, got {resolution!r}")

    download = settings.get("download", False)
    if download is None:
        download = False
    if not isinstance(download, bool):
        raise ValueError(f"download of {source} must be true or false, got {download!r}")

    in_memory = settings.get("in_memory", "auto")
    if in_memory is None:
        in_memory = "auto"
    if not (in_memory == "auto" or isinstance(in_memory, bool)):
        raise ValueError(f"in_memory of {source} must be 'auto', true or false, got {in_memory!r}")

    data_root = settings.get("data_root") or DEFAULT_DATA_ROOT
    if not isinstance(data_root, (str, Path)):
        raise ValueError(f"data_root of {source} must be a folder path, got {data_root!r}")

    path = settings.get("path")
    if source in ("imagefolder", "npz") and not path:
        kind = "folder of images" if source == "imagefolder" else ".npz file of images"
        raise ValueError(f"source {source} needs a path: set path to the {kind}")

    center_crop = settings.get("center_crop", CELEBA_CENTER_CROP)
    if center_crop is None:
        center_crop = CELEBA_CENTER_CROP
    if isinstance(center_crop, bool) or not isinstance(center_crop, int) or center_crop <= 0:
        raise ValueError(f"center_crop of {source} must be a positive integer (pixels), got {center_crop!r}")

    return {
        "source": source,
        "data_root": str(data_root),
        "download": download,
        "resolution": resolution,
        "in_memory": in_memory,
        "path": None if path is None else str(path),
        "npz_key": settings.get("npz_key"),
        "center_crop": center_crop,
    }
