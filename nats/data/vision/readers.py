"""Readers that return one preprocessed image as a uint8 tensor (C, H, W).

A reader is indexable like a dataset: ``len(reader)`` images, and
``reader.read(index)`` decodes image ``index`` and applies the source's
preprocessing (a torchvision transform on a PIL image). The same call serves
both ways of holding a training set: an in-memory set reads every index once
at load time, a streamed set reads the indices of each batch. So the two give
the same pixels for the same index.
"""

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.functional import pil_to_tensor
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

# Pillow's decoders run without the GIL, so a few threads speed up reading
# JPEG or WebP files on a machine with free cores.
MAX_READ_THREADS = 8
# Fewer images than this are read in the calling thread unless an executor is given.
MIN_IMAGES_FOR_OWN_THREADS = 64

Transform = Callable[[Image.Image], Image.Image]


def default_read_threads() -> int:
    return max(1, min(MAX_READ_THREADS, os.cpu_count() or 1))


class ImageReader:
    """Base class: an indexable source of preprocessed uint8 images.

    Attributes:
        max_threads: how many threads may call ``read`` at the same time
            (1 for readers that are not thread-safe).
    """

    max_threads = MAX_READ_THREADS

    def __len__(self) -> int:
        raise NotImplementedError

    def read(self, index: int) -> torch.Tensor:
        """Decode and preprocess image ``index``.

        Args:
            index: position in ``range(len(self))``.

        Returns:
            A uint8 tensor (C, H, W).
        """
        raise NotImplementedError

    def read_all(self, description: str | None = None) -> torch.Tensor:
        """Read every image in index order into one uint8 tensor (N, C, H, W)."""
        return read_images(self, range(len(self)), description)


def _apply(image: Image.Image, transform: Transform | None) -> torch.Tensor:
    if transform is not None:
        image = transform(image)
    return pil_to_tensor(image)


class ArrayImageReader(ImageReader):
    """Images in a uint8 array (N, C, H, W), such as the arrays torchvision's dataset classes load.

    Args:
        pixels: uint8 array (N, C, H, W) with C in {1, 3}; views of the
            arrays that torchvision loaded are fine, nothing is copied.
        transform: PIL preprocessing, or ``None`` to keep the pixels as
            they are (read without going through PIL).
    """

    def __init__(self, pixels: np.ndarray, transform: Transform | None):
        if pixels.dtype != np.uint8 or pixels.ndim != 4 or pixels.shape[1] not in (1, 3):
            raise ValueError(
                f"expected uint8 pixels of shape (N, C, H, W) with C in {{1, 3}}, got {pixels.dtype} {pixels.shape}"
            )
        self.pixels = pixels
        self.transform = transform
        if transform is None:
            # A read is a copy of one array slice: threads only add overhead.
            self.max_threads = 1

    def __len__(self) -> int:
        return self.pixels.shape[0]

    def read(self, index: int) -> torch.Tensor:
        chw = self.pixels[index]
        if self.transform is None:
            return torch.from_numpy(np.ascontiguousarray(chw))
        if chw.shape[0] == 1:
            image = Image.fromarray(np.ascontiguousarray(chw[0]), mode="L")
        else:
            image = Image.fromarray(np.ascontiguousarray(chw.transpose(1, 2, 0)), mode="RGB")
        return _apply(image, self.transform)

    def read_all(self, description: str | None = None) -> torch.Tensor:
        if self.transform is None:
            return torch.from_numpy(np.ascontiguousarray(self.pixels))
        return super().read_all(description)


class FileImageReader(ImageReader):
    """One image file per index (JPEG, PNG, WebP, ...), decoded with PIL.

    Args:
        paths: the image files, in index order.
        mode: PIL mode every image is converted to (``"RGB"`` or ``"L"``).
        transform: PIL preprocessing applied after the conversion.
    """

    def __init__(self, paths: Sequence[Path], mode: str, transform: Transform | None):
        self.paths = list(paths)
        self.mode = mode
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def read(self, index: int) -> torch.Tensor:
        path = self.paths[index]
        try:
            with Image.open(path) as image:
                converted = image.convert(self.mode)
        except (OSError, ValueError, SyntaxError) as error:
            # PIL raises OSError for unknown formats and truncated files, and
            # ValueError or SyntaxError for some damaged headers.
            raise OSError(f"image file {str(path)!r} cannot be read ({error}); remove or replace it") from error
        return _apply(converted, self.transform)


class DatasetImageReader(ImageReader):
    """A torchvision dataset whose items are ``(PIL image, target)`` pairs.

    Used for LSUN's lmdb databases. Its ``transform`` must already be set to
    the preprocessing.
    """

    # torchvision opens LSUN's lmdb environments with max_readers=1.
    max_threads = 1

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def read(self, index: int) -> torch.Tensor:
        image, _ = self.dataset[index]
        return pil_to_tensor(image)


class ConcatenatedReader(ImageReader):
    """Several readers one after the other, such as SVHN's train and extra splits."""

    def __init__(self, readers: Sequence[ImageReader]):
        self.readers = list(readers)
        self.offsets = np.cumsum([0] + [len(reader) for reader in self.readers])
        self.max_threads = min(reader.max_threads for reader in self.readers)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def read(self, index: int) -> torch.Tensor:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} images")
        part = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return self.readers[part].read(index - int(self.offsets[part]))

    def read_all(self, description: str | None = None) -> torch.Tensor:
        return torch.cat([reader.read_all(description) for reader in self.readers])


def read_images(
    reader: ImageReader,
    indices: Sequence[int],
    description: str | None = None,
    executor: ThreadPoolExecutor | None = None,
) -> torch.Tensor:
    """Read the images at ``indices`` into one uint8 tensor, in the order given.

    Args:
        reader: where the images come from.
        indices: image indices; repeats are allowed.
        description: label of a tqdm progress bar; ``None`` shows none.
        executor: thread pool to decode with. Without one, a pool of
            ``default_read_threads()`` threads is made for this call when the
            reader allows threads and there are at least
            ``MIN_IMAGES_FOR_OWN_THREADS`` images. Readers with
            ``max_threads`` 1 always read in the calling thread.

    Returns:
        A uint8 tensor (len(indices), C, H, W).

    Raises:
        ValueError: if ``indices`` is empty or the images differ in shape.
    """
    indices = [int(index) for index in indices]
    if not indices:
        raise ValueError("no image indices to read; pass at least one index")

    threads = min(reader.max_threads, default_read_threads())
    own_executor = None
    if executor is None and threads > 1 and len(indices) >= MIN_IMAGES_FOR_OWN_THREADS:
        own_executor = executor = ThreadPoolExecutor(max_workers=threads)
    if reader.max_threads <= 1:
        executor = None
    pixels = None
    try:
        decoded = map(reader.read, indices) if executor is None else executor.map(reader.read, indices)
        progress = tqdm(decoded, total=len(indices), desc=description, unit="img", disable=description is None)
        for position, image in enumerate(progress):
            if pixels is None:
                pixels = torch.empty((len(indices), *image.shape), dtype=torch.uint8)
            elif image.shape != pixels.shape[1:]:
                raise ValueError(
                    f"image {indices[position]} has shape {tuple(image.shape)} after preprocessing, but image "
                    f"{indices[0]} has {tuple(pixels.shape[1:])}; the preprocessing must give one size"
                )
            pixels[position] = image
    finally:
        if own_executor is not None:
            own_executor.shutdown(cancel_futures=True)
    return pixels
