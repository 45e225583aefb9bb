"""Generator and discriminator networks, picked by the ``architecture`` setting."""

import torch.nn as nn

from nats.data import TrainingSet
from nats.networks.conv import ConvDiscriminator, ConvGenerator
from nats.networks.mlp import MLPDiscriminator, MLPGenerator
from nats.networks.registry import ARCHITECTURES, Architecture, PublishedNetworks, image_shape

DEFAULT_ARCHITECTURE = "auto"


def check_architecture(name: str, training_set: TrainingSet) -> Architecture:
    """Return the architecture called ``name`` after checking that it fits the training set.

    Raises:
        ValueError: for an unknown name, a data kind the architecture does
            not support, or an image resolution outside its list.
    """
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; expected one of {', '.join(ARCHITECTURES)}")
    architecture = ARCHITECTURES[name]

    if training_set.kind not in architecture.kinds:
        raise ValueError(
            f"architecture {name!r} supports {' and '.join(architecture.kinds)} data, but training set "
            f"{training_set.name!r} is {training_set.kind!r} data; use architecture 'auto' for it"
        )
    if training_set.kind == "image" and architecture.resolutions is not None:
        _, resolution = image_shape(training_set)
        if resolution not in architecture.resolutions:
            supported = ", ".join(f"{side}x{side}" for side in architecture.resolutions)
            raise ValueError(
                f"architecture {name!r} supports {supported} images, but training set {training_set.name!r} "
                f"has {resolution}x{resolution}; set the dataset's resolution to a supported one or pick another architecture"
            )
    return architecture


def build_networks(settings: dict, training_set: TrainingSet, spectral_norm: bool = False) -> tuple[nn.Module, nn.Module]:
    """Build the generator and discriminator for a training set.

    Args:
        settings: method settings with ``z_dim``, ``g_width``, ``d_width``,
            ``g_batch_norm``, ``d_batch_norm`` and optionally
            ``architecture`` (default ``"auto"``: convolutional nets for
            images, MLPs for 2D points).
        training_set: the data the nets must fit (kind, channels, resolution).
        spectral_norm: wrap every discriminator conv and linear layer in
            spectral normalisation.

    Returns:
        ``(generator, discriminator)``.

    Raises:
        ValueError: for an unknown architecture or one that does not support
            the training set, naming the supported kinds or resolutions.
    """
    if training_set.kind not in ("image", "points"):
        raise ValueError(f"unknown training set kind {training_set.kind!r}; expected 'image' or 'points'")
    architecture = check_architecture(settings.get("architecture", DEFAULT_ARCHITECTURE), training_set)
    return architecture.build(settings, training_set, spectral_norm)


__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "ConvDiscriminator",
    "ConvGenerator",
    "DEFAULT_ARCHITECTURE",
    "MLPDiscriminator",
    "MLPGenerator",
    "PublishedNetworks",
    "build_networks",
    "check_architecture",
]
