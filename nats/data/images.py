"""Real image datasets read through torchvision: training sets and FID references.

Sources (``IMAGE_SOURCES``), the training images each gives, and the files it
reads. Every dataset has its own folder under ``data_root``, in the layout
that torchvision 0.29 reads and downloads:

- ``cifar10``: the 50,000 training images, 32x32.
  ``<data_root>/cifar-10-batches-py/data_batch_1`` .. ``data_batch_5`` (train)
  and ``test_batch`` (test), the python version of CIFAR-10.
- ``stl10``: the 5,000 labelled and 100,000 unlabelled training images, 96x96
  resized to 48x48. ``<data_root>/stl10_binary/train_X.bin``,
  ``train_y.bin``, ``unlabeled_X.bin`` (train) and ``test_X.bin``,
  ``test_y.bin`` (test), the binary version.
- ``celeba``: the 162,770 images of the official train partition. A centred
  140x140 square of each 178x218 aligned face is resized to 64x64.
  ``<data_root>/celeba/img_align_celeba/*.jpg`` and
  ``<data_root>/celeba/list_eval_partition.txt``.
- ``lsun-bedroom``, ``lsun-church``: the category's train set. The shorter
  side is resized to 64, then the central 64x64 is kept. The files are the
  lmdb database of the LSUN release, ``<data_root>/lsun/bedroom_train_lmdb/``
  or ``church_outdoor_train_lmdb/``, which needs the lmdb package. A folder
  of exported images, ``<data_root>/lsun/bedroom_train/`` or
  ``church_outdoor_train/`` at any depth, works too.
- ``mnist``: the 60,000 training digits, 28x28 zero-padded to 32x32, one
  channel. ``<data_root>/MNIST/raw/train-images-idx3-ubyte`` (train) and
  ``t10k-images-idx3-ubyte`` (test), the uncompressed idx files.
- ``svhn``: the 73,257 train and 531,131 extra digits, 32x32.
  ``<data_root>/svhn/train_32x32.mat`` and ``extra_32x32.mat`` (train) and
  ``test_32x32.mat`` (test), the cropped-digits format.
- ``imagefolder``: the images under ``path`` at any depth (torchvision's
  ImageFolder layout of one subfolder per class works too).
- ``npz``: the array of the ``.npz`` file ``path`` (the one named ``npz_key``
  if it has several): uint8 pixels, or float images in [-1, 1], of shape
  (N, H, W), (N, H, W, C) or (N, C, H, W) with C in {1, 3}.

The last two are resized so that the shorter side is ``resolution`` and
cropped to the central square, unless already square at that size. Resizing
uses PIL's bicubic filter everywhere.

Nothing is downloaded unless ``download`` is true and files are missing.
torchvision cannot download LSUN, and CelebA's download from Google Drive
often fails, so those two usually need a manual download.

A training set is kept in memory as one uint8 tensor, which moves to the
training device with the set, when ``in_memory`` is true, or when it is
``auto`` and the tensor is smaller than ``IN_MEMORY_MAX_BYTES``. Otherwise
each batch is read from disk and preprocessed when it is drawn. The
array-based sources (CIFAR-10, STL-10, SVHN, MNIST, npz) are loaded whole by
their torchvision readers anyway, so for them streaming saves only the
preprocessed copy.
"""

import logging
import math
from pathlib import Path

import torch

from nats.data.vision.readers import ImageReader, read_images
from nats.data.vision.sets import ImageTrainingSet, InMemoryImageSet, StreamedImageSet, uint8_to_float_images
from nats.data.vision.settings import (
    IMAGE_SOURCE_DEFAULTS,
    IMAGE_SOURCES,
    IN_MEMORY_MAX_BYTES,
    DatasetNotFoundError,
    resolve_image_settings,
)
from nats.data.vision.sources import ImageSource, build_source

logger = logging.getLogger(__name__)


def _source_of(name: str, settings: dict | None) -> str:
    return (settings or {}).get("source") or name


def _prepared_source(source: str, settings: dict | None, split: str) -> ImageSource:
    """Resolve the settings and make sure the files of ``split`` are there, downloading if allowed."""
    resolved = resolve_image_settings(source, settings)
    image_source = build_source(resolved)
    image_source.check_split(split)

    missing = image_source.missing_paths(split)
    if missing and resolved["download"] and image_source.defaults["downloadable"]:
        logger.info("%s %s split not found under %s; downloading it with torchvision", image_source.title, split, image_source.data_root)
        image_source.download(split)
        missing = image_source.missing_paths(split)
    if missing:
        raise image_source.not_found_error(split, missing)
    return image_source


def check_image_dataset(source: str, settings: dict | None, split: str = "train") -> list[Path]:
    """Check that an image source's files exist, without decoding them.

    With ``download: true`` a missing source that torchvision can download
    passes (the download happens when the set is loaded), unless a package
    that the download needs is missing.

    Args:
        source: one of ``IMAGE_SOURCES``.
        settings: the dataset settings (``data_root``, ``download``, ``path``, ...).
        split: the split to check, a key of ``IMAGE_SOURCE_DEFAULTS[source]["splits"]``.

    Returns:
        The files and folders the split is read from.

    Raises:
        DatasetNotFoundError: if files are missing and will not be downloaded.
            The message names the missing paths, the expected layout and the fix.
        ModuleNotFoundError: if reading or downloading needs a package that is
            not installed (lmdb for LSUN databases, gdown for CelebA's download).
        ValueError: for invalid settings or an unknown split.
    """
    resolved = resolve_image_settings(source, settings)
    image_source = build_source(resolved)
    image_source.check_split(split)

    missing = image_source.missing_paths(split)
    if not missing:
        return image_source.required_paths(split)
    if resolved["download"] and image_source.defaults["downloadable"]:
        image_source.check_download_possible()
        logger.info("%s %s split is missing; it will be downloaded when loaded", image_source.title, split)
        return image_source.required_paths(split)
    raise image_source.not_found_error(split, missing)


def _split_label(image_source: ImageSource, split: str) -> str:
    if split == "train":
        return "+".join(image_source.defaults["training_parts"])
    return split


def describe_preprocessing(source: str, settings: dict | None, split: str = "train") -> str:
    """Describe in one line which images a source gives and how they are preprocessed.

    Args:
        source: one of ``IMAGE_SOURCES``.
        settings: the dataset settings. The imagefolder and npz sources read
            their first image or the array's shape, so their files must exist.
        split: the split described.

    Returns:
        For example ``"stl10 train+unlabeled: STL-10 96x96 RGB -> resize to
        48x48 with PIL bicubic (antialiased) -> uint8 (3, 48, 48), scaled to
        [-1, 1] by x / 127.5 - 1"``.
    """
    image_source = build_source(resolve_image_settings(source, settings))
    image_source.check_split(split)
    return f"{source} {_split_label(image_source, split)}: {image_source.preprocessing().describe()}"


def _warn_on_unexpected_size(image_source: ImageSource, split: str, count: int) -> None:
    expected = image_source.defaults["splits"].get(split)
    if expected is not None and count != expected:
        logger.warning(
            "%s %s split has %d images, but the official release has %d; results are not comparable "
            "with published ones unless the files are complete",
            image_source.title, split, count, expected,
        )


def load_image_training_set(name: str, settings: dict | None) -> ImageTrainingSet:
    """Load the training split of an image source, in memory or streamed.

    Args:
        name: the dataset's name in the grid; also the source when
            ``settings`` has no ``source``.
        settings: the dataset settings (see ``resolve_image_settings``).

    Returns:
        An ``InMemoryImageSet`` or a ``StreamedImageSet`` on the CPU.

    Raises:
        DatasetNotFoundError: if files are missing and will not be downloaded.
        ValueError: for invalid settings.
    """
    source = _source_of(name, settings)
    image_source = _prepared_source(source, settings, "train")
    settings = image_source.settings

    preprocessing = image_source.preprocessing()
    reader = image_source.open("train")
    count = len(reader)
    if count == 0:
        raise DatasetNotFoundError(f"{image_source.title} train split contains no images; {image_source.fix()}")
    _warn_on_unexpected_size(image_source, "train", count)

    sample_shape = preprocessing.sample_shape
    size_bytes = count * math.prod(sample_shape)
    in_memory = settings["in_memory"]
    if in_memory == "auto":
        in_memory = size_bytes < IN_MEMORY_MAX_BYTES

    info = {
        "source": source,
        "split": _split_label(image_source, "train"),
        "resolution": sample_shape[1],
        "channels": sample_shape[0],
        "preprocessing": f"{source} {_split_label(image_source, 'train')}: {preprocessing.describe()}",
        "in_memory": bool(in_memory),
    }
    if in_memory:
        logger.info("loading %d %s images into memory (%.1f MiB of uint8)", count, image_source.title, size_bytes / 2**20)
        pixels = reader.read_all(description=f"preprocessing {name}")
        return InMemoryImageSet(name, pixels, info)

    logger.info("streaming %d %s images from disk (%.1f GiB as uint8)", count, image_source.title, size_bytes / 2**30)
    return StreamedImageSet(name, reader, sample_shape, info)


def load_reference_images(
    source: str,
    settings: dict | None,
    split: str = "train",
    max_images: int | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Load real images for an Inception FID reference, preprocessed as for training.

    Args:
        source: one of ``IMAGE_SOURCES``.
        settings: the dataset settings of the runs being compared.
        split: a key of ``IMAGE_SOURCE_DEFAULTS[source]["splits"]``; ``train``
            is the training set.
        max_images: load a random subset of this many images (``None``: all).
        seed: seed of the subset; the same seed gives the same images.

    Returns:
        A uint8 tensor (N, C, H, W) on the CPU, in the split's order (a subset
        keeps that order). N is ``min(max_images, split size)``.

    Raises:
        DatasetNotFoundError: if files are missing and will not be downloaded.
        ValueError: for invalid settings, an unknown split or ``max_images < 1``.
    """
    if max_images is not None and (isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 1):
        raise ValueError(f"max_images must be a positive integer or None, got {max_images!r}")
    image_source = _prepared_source(source, settings, split)
    reader = image_source.open(split)
    count = len(reader)
    _warn_on_unexpected_size(image_source, split, count)

    if max_images is None or max_images >= count:
        if max_images is not None:
            logger.warning("%s %s split has %d images, fewer than the %d requested; using all", image_source.title, split, count, max_images)
        indices = range(count)
    else:
        generator = torch.Generator().manual_seed(seed)
        indices = torch.randperm(count, generator=generator)[:max_images].sort().values.tolist()
    logger.info("loading %d reference images of %s (%s split)", len(indices), image_source.title, split)
    return read_images(reader, indices, description=f"reference {source} {split}")


__all__ = [
    "IMAGE_SOURCES",
    "IMAGE_SOURCE_DEFAULTS",
    "IN_MEMORY_MAX_BYTES",
    "DatasetNotFoundError",
    "ImageReader",
    "ImageTrainingSet",
    "InMemoryImageSet",
    "StreamedImageSet",
    "check_image_dataset",
    "describe_preprocessing",
    "load_image_training_set",
    "load_reference_images",
    "resolve_image_settings",
    "uint8_to_float_images",
]
