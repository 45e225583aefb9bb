"""Image training sets: uint8 pixels in memory, or read from disk per batch.

Both kinds store pixels as uint8 and hand out float images in [-1, 1] by
x / 127.5 - 1, the inverse of the metrics' round(127.5 * x + 127.5), so a
pixel survives the round trip unchanged. ``RealBatches`` draws the indices of
a batch and calls ``batch(indices)``.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

import torch

from nats.data.vision.readers import ImageReader, default_read_threads, read_images

logger = logging.getLogger(__name__)


def uint8_to_float_images(pixels: torch.Tensor) -> torch.Tensor:
    """Map uint8 pixels in [0, 255] to float32 images in [-1, 1] on the same device."""
    return pixels.to(torch.float32) / 127.5 - 1.0


class ImageTrainingSet:
    """Base class of the image training sets.

    Attributes:
        name: dataset name, as used in configs and result paths.
        kind: always ``"image"``.
        info: facts about the set (source, resolution, channels,
            preprocessing, split, whether it is held in memory).
    """

    kind = "image"

    def __init__(self, name: str, info: dict):
        self.name = name
        self.info = info

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def to(self, device: torch.device) -> "ImageTrainingSet":
        raise NotImplementedError

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        """Return the images at ``indices`` as float32 (B, C, H, W) in [-1, 1] on ``device``."""
        raise NotImplementedError


class InMemoryImageSet(ImageTrainingSet):
    """A training set held as one uint8 tensor (N, C, H, W) on its device.

    Args:
        name: dataset name.
        pixels: uint8 tensor (N, C, H, W).
        info: see ``ImageTrainingSet``.
    """

    def __init__(self, name: str, pixels: torch.Tensor, info: dict):
        if pixels.dtype != torch.uint8 or pixels.dim() != 4:
            raise ValueError(f"expected uint8 pixels (N, C, H, W), got {pixels.dtype} {tuple(pixels.shape)}")
        super().__init__(name, info)
        self.pixels = pixels

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return tuple(self.pixels.shape[1:])

    @property
    def device(self) -> torch.device:
        return self.pixels.device

    def __len__(self) -> int:
        return self.pixels.shape[0]

    def to(self, device: torch.device) -> "InMemoryImageSet":
        return InMemoryImageSet(self.name, self.pixels.to(device), self.info)

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        return uint8_to_float_images(self.pixels[indices.to(self.pixels.device)])


class StreamedImageSet(ImageTrainingSet):
    """A training set whose images are read and preprocessed per batch.

    Args:
        name: dataset name.
        reader: where the preprocessed uint8 images come from.
        sample_shape: the (C, H, W) of every image.
        info: see ``ImageTrainingSet``.
        device: where batches are put.
    """

    def __init__(
        self,
        name: str,
        reader: ImageReader,
        sample_shape: tuple[int, int, int],
        info: dict,
        device: torch.device | str = "cpu",
    ):
        super().__init__(name, info)
        self.reader = reader
        self._sample_shape = tuple(sample_shape)
        self._device = torch.device(device)
        self._executor = None

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return self._sample_shape

    @property
    def device(self) -> torch.device:
        return self._device

    def __len__(self) -> int:
        return len(self.reader)

    def to(self, device: torch.device) -> "StreamedImageSet":
        return StreamedImageSet(self.name, self.reader, self._sample_shape, self.info, device)

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        pixels = read_images(self.reader, indices.tolist(), executor=self._thread_pool())
        if tuple(pixels.shape[1:]) != self._sample_shape:
            raise ValueError(
                f"{self.name}: read images of shape {tuple(pixels.shape[1:])}, expected {self._sample_shape}"
            )
        return uint8_to_float_images(pixels.to(self._device))

    def _thread_pool(self) -> ThreadPoolExecutor | None:
        threads = min(self.reader.max_threads, default_read_threads())
        if threads <= 1:
            return None
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"read-{self.name}")
        return self._executor
