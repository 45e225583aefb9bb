"""Image sets read from disk: generated samples or a real reference.

An image set is a ``.npz`` file or a folder of PNG/JPEG files. A ``.npz``
contains one array (or the array under ``key``) of uint8 pixels in [0, 255] or
float images in [-1, 1], laid out (N, H, W), (N, H, W, C) or (N, C, H, W)
with C in {1, 3}. Everything is returned as float images (N, C, H, W) in
[-1, 1], the input of the image adapter; uint8 pixels map back to the same
uint8 values through the adapter, bit for bit.
"""

import logging
import zipfile
from pathlib import Path

import numpy as np
import torch

from nats.metrics.adapter import ImageRangeError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

# Reference names that load_reference resolves to images shipped with the
# package instead of a path.
BUNDLED_REFERENCES = ("digits",)


def _to_nchw(array: np.ndarray, source: str) -> np.ndarray:
    if array.ndim == 3:
        return array[:, None]
    if array.ndim == 4 and array.shape[1] in (1, 3):
        return array
    if array.ndim == 4 and array.shape[3] in (1, 3):
        return array.transpose(0, 3, 1, 2)
    raise ImageRangeError(
        f"{source}: expected images of shape (N, H, W), (N, H, W, C) or (N, C, H, W) with C in {{1, 3}}, "
        f"got {array.shape}"
    )


def pixels_to_float(array: np.ndarray, source: str) -> torch.Tensor:
    """Convert a uint8 or float image array to float images (N, C, H, W) in [-1, 1].

    Args:
        array: uint8 pixels in [0, 255] or float images in [-1, 1].
        source: names the array in error messages.

    Raises:
        ImageRangeError: for another dtype or layout. Float arrays are not
            rescaled: the adapter rejects float values in [0, 255].
    """
    array = _to_nchw(np.asarray(array), source)
    if array.dtype == np.uint8:
        return torch.from_numpy(array.astype(np.float32)) / 127.5 - 1.0
    if np.issubdtype(array.dtype, np.floating):
        return torch.from_numpy(array.astype(np.float32))
    raise ImageRangeError(f"{source}: expected uint8 or float images, got dtype {array.dtype}")


def load_image_set(path: str | Path, key: str | None = None) -> torch.Tensor:
    """Read an image set from a ``.npz`` file or a folder of images.

    Args:
        path: the ``.npz`` file or the folder.
        key: array name inside the ``.npz``; optional when it contains one array.

    Returns:
        Float images (N, C, H, W) in [-1, 1] (not yet range-checked).

    Raises:
        FileNotFoundError: if ``path`` does not exist or a folder has no images.
        ImageRangeError: for arrays of the wrong layout or dtype.
    """
    path = Path(path)
    if path.is_dir():
        from PIL import Image

        files = sorted(file for file in path.iterdir() if file.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"image folder {str(path)!r} contains no {', '.join(IMAGE_SUFFIXES)} files")
        arrays = [_read_image_file(file) for file in files]
        shapes = {array.shape for array in arrays}
        if len(shapes) > 1:
            raise ImageRangeError(f"images in {str(path)!r} differ in shape: {sorted(shapes)}")
        return pixels_to_float(np.stack(arrays), str(path))

    if not path.is_file():
        raise FileNotFoundError(f"image set {str(path)!r} not found; give a .npz file or a folder of images")
    try:
        with np.load(path) as archive:
            names = list(archive.keys())
            if key is None:
                if len(names) != 1:
                    raise ImageRangeError(f"{str(path)!r} contains arrays {names}; pass the key of the one to use")
                key = names[0]
            if key not in names:
                raise ImageRangeError(f"{str(path)!r} has no array {key!r}; it contains {names}")
            array = archive[key]
    except ImageRangeError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise UnreadableImageFile(f"image set {str(path)!r} cannot be read as .npz ({error}); replace the file") from error
    return pixels_to_float(array, f"{path}[{key}]")


class UnreadableImageFile(ValueError):
    """An image or .npz file that is truncated, corrupt or of an unknown format."""


def _read_image_file(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return np.asarray(image)
    except (OSError, ValueError, SyntaxError) as error:
        # PIL raises OSError for unknown formats and truncated files, and
        # ValueError or SyntaxError for some damaged headers.
        raise UnreadableImageFile(f"image file {str(path)!r} cannot be read ({error}); remove or replace it") from error


def load_reference(reference: str, resolution: int | None = None) -> tuple[torch.Tensor, str]:
    """Load a real reference by name or path.

    Args:
        reference: ``digits`` (all 1,797 bundled digits at ``resolution``) or
            the path of a ``.npz`` file or image folder.
        resolution: side of the digits; required for ``digits``.

    Returns:
        Float images in [-1, 1] and the reference's name for the protocol
        (``digits-all-16px`` or the file name).
    """
    if reference in BUNDLED_REFERENCES:
        from nats.data import load_digits

        if resolution is None:
            raise ValueError("the digits reference needs the resolution of the run's images")
        return load_digits(resolution).samples, f"digits-all-{resolution}px"
    return load_image_set(reference), Path(reference).name
