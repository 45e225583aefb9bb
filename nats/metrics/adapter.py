"""The one path by which generated and real images enter metric libraries.

Every image metric of the project receives images through ``to_uint8_rgb``.
It checks float images in [-1, 1], clamps them, quantises them to uint8 and
tiles them to three channels, the input format of torch-fidelity's feature
extractors. The policy
is stored in ``ADAPTER_POLICY`` and recorded in every metric protocol.
"""

import torch
from torch.utils.data import Dataset

ACCEPTED_RANGE = (-1.05, 1.05)

ADAPTER_POLICY = {
    "input": "float tensor (N, C, H, W) with C in {1, 3}, values in [-1, 1]",
    "rejects": "non-finite values and values outside [-1.05, 1.05]",
    "clamp": "[-1, 1]",
    "to_uint8": "round(127.5 * x + 127.5), halves rounded to even (torch.round)",
    "channels": "1 channel tiled to 3, 3 channels kept",
    "resize": "none",
}


class ImageRangeError(ValueError):
    """Images that are not float tensors of shape (N, C, H, W) in about [-1, 1]."""


def check_float_images(images: torch.Tensor) -> None:
    """Check that ``images`` are float images in [-1, 1], up to a small tolerance.

    Args:
        images: tensor of shape (N, C, H, W) with C equal to 1 or 3.

    Raises:
        ImageRangeError: naming the dtype, shape or observed range that is
            wrong and how to convert the images.
    """
    if not isinstance(images, torch.Tensor):
        raise ImageRangeError(f"expected a torch.Tensor of images, got {type(images).__name__}")
    if not images.is_floating_point():
        raise ImageRangeError(
            f"expected float images in [-1, 1], got dtype {images.dtype}; "
            "convert uint8 pixels with x.float() / 127.5 - 1"
        )
    if images.dim() != 4 or images.shape[1] not in (1, 3) or images.shape[0] == 0:
        raise ImageRangeError(
            f"expected images of shape (N, C, H, W) with N >= 1 and C in {{1, 3}}, got {tuple(images.shape)}"
        )

    num_non_finite = int((~torch.isfinite(images)).sum())
    if num_non_finite:
        raise ImageRangeError(
            f"{num_non_finite} image values are NaN or infinite; the generator produced invalid samples "
            "(check the training log for divergence)"
        )

    low, high = ACCEPTED_RANGE
    observed_min = float(images.min())
    observed_max = float(images.max())
    if observed_min >= low and observed_max <= high:
        return
    message = (
        f"image values span [{observed_min:.4g}, {observed_max:.4g}], outside the accepted range "
        f"[{low}, {high}] of images in [-1, 1]"
    )
    if observed_min >= -1e-6 and observed_max > 2.0:
        message += "; they look like [0, 255] pixel values, convert them with x / 127.5 - 1"
    else:
        message += "; clamp generated images to [-1, 1] before evaluation"
    raise ImageRangeError(message)


def to_uint8_rgb(images: torch.Tensor) -> torch.Tensor:
    """Convert float images in [-1, 1] to the uint8 RGB images metrics read.

    NOTE: images scaled to [0, 1] by mistake pass the range check, because
    [0, 1] lies inside [-1, 1]; they come out too bright, not rejected.

    Args:
        images: float tensor (N, C, H, W), C in {1, 3}, values in [-1, 1].

    Returns:
        uint8 tensor (N, 3, H, W) on the CPU, ``round(127.5 * x + 127.5)`` of
        the clamped input, grayscale tiled to three channels.

    Raises:
        ImageRangeError: see ``check_float_images``.
    """
    check_float_images(images)

    clamped = images.detach().to("cpu", torch.float64).clamp(-1.0, 1.0)
    pixels = torch.round(127.5 * clamped + 127.5).to(torch.uint8)

    if pixels.shape[1] == 1:
        pixels = pixels.expand(-1, 3, -1, -1)
    return pixels.contiguous()


class UInt8ImageDataset(Dataset):
    """uint8 RGB images served one by one, the Dataset input torch-fidelity reads."""

    def __init__(self, pixels: torch.Tensor):
        if pixels.dtype != torch.uint8 or pixels.dim() != 4 or pixels.shape[1] != 3:
            raise ImageRangeError(
                f"expected uint8 images of shape (N, 3, H, W), got dtype {pixels.dtype} and shape "
                f"{tuple(pixels.shape)}; build them with to_uint8_rgb"
            )
        self.pixels = pixels

    def __len__(self) -> int:
        return self.pixels.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.pixels[index]


def to_fidelity_dataset(images: torch.Tensor) -> UInt8ImageDataset:
    """Adapt float images in [-1, 1] into a torch-fidelity input.

    Args:
        images: float tensor (N, C, H, W) in [-1, 1].

    Returns:
        A dataset of uint8 (3, H, W) images, made by ``to_uint8_rgb``.
    """
    return UInt8ImageDataset(to_uint8_rgb(images))
