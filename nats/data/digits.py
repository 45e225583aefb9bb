"""scikit-learn's handwritten digits, bundled with scikit-learn itself.

The 1,797 images are 8x8 with integer intensities 0..16. They are scaled to
[-1, 1] and upsampled bilinearly to the requested square resolution.
"""

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits as sklearn_load_digits

from nats.data.base import TrainingSet

DIGITS_MAX_INTENSITY = 16.0
DIGITS_SPLIT_SEED = 0
DIGITS_HELD_OUT_FRACTION = 0.2


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    bunch = sklearn_load_digits()
    return bunch.images.astype(np.float32), bunch.target.astype(np.int64)


def _to_images(raw: np.ndarray, resolution: int) -> torch.Tensor:
    if resolution < 8:
        raise ValueError(f"digits resolution {resolution} is below the native 8x8; use 8 or more")
    images = torch.from_numpy(raw).unsqueeze(1) / DIGITS_MAX_INTENSITY * 2.0 - 1.0
    if resolution != 8:
        images = F.interpolate(images, size=(resolution, resolution), mode="bilinear", align_corners=False)
    return images.clamp(-1.0, 1.0).contiguous()


def load_digits(resolution: int = 16) -> TrainingSet:
    """Load all 1,797 digits as a (1797, 1, resolution, resolution) training set."""
    raw, labels = _digits_arrays()
    images = _to_images(raw, resolution)
    return TrainingSet(
        name="digits",
        kind="image",
        samples=images,
        info={"resolution": resolution, "labels": torch.from_numpy(labels)},
    )


def digits_split(resolution: int = 16) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Split the digits into a fixed training and held-out part.

    The split is a permutation drawn from a fixed seed, so every config and
    machine gets the same one. It serves the metric classifier only: the
    GANs train on all images.

    Returns:
        ``{"train": (images, labels), "held_out": (images, labels)}``.
    """
    raw, labels = _digits_arrays()
    images = _to_images(raw, resolution)
    targets = torch.from_numpy(labels)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(DIGITS_SPLIT_SEED))
    num_held_out = int(round(DIGITS_HELD_OUT_FRACTION * len(images)))
    held_out, train = order[:num_held_out], order[num_held_out:]
    return {
        "train": (images[train], targets[train]),
        "held_out": (images[held_out], targets[held_out]),
    }
