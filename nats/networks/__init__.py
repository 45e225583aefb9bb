"""Generator and discriminator networks, picked by the kind of data."""

import torch.nn as nn

from nats.data import TrainingSet
from nats.networks.conv import ConvDiscriminator, ConvGenerator
from nats.networks.mlp import MLPDiscriminator, MLPGenerator


def build_networks(settings: dict, training_set: TrainingSet, spectral_norm: bool = False) -> tuple[nn.Module, nn.Module]:
    """Build the generator and discriminator for a training set.

    Args:
        settings: method settings with ``z_dim``, ``g_width``, ``d_width``,
            ``g_batch_norm`` and ``d_batch_norm``.
        training_set: images get the convolutional nets, 2D points the MLPs.
        spectral_norm: wrap every discriminator layer in spectral normalisation.

    Returns:
        ``(generator, discriminator)``.
    """
    if training_set.kind == "image":
        channels, height, width = training_set.sample_shape
        if height != width:
            raise ValueError(f"only square images are supported, got {height}x{width}")
        generator = ConvGenerator(
            z_dim=settings["z_dim"],
            width=settings["g_width"],
            resolution=height,
            channels=channels,
            batch_norm=settings["g_batch_norm"],
        )
        discriminator = ConvDiscriminator(
            width=settings["d_width"],
            resolution=height,
            channels=channels,
            batch_norm=settings["d_batch_norm"],
            spectral_norm=spectral_norm,
        )
        return generator, discriminator

    if training_set.kind == "points":
        generator = MLPGenerator(z_dim=settings["z_dim"], hidden=settings["g_width"], out_dim=training_set.sample_shape[0])
        discriminator = MLPDiscriminator(
            hidden=settings["d_width"], in_dim=training_set.sample_shape[0], spectral_norm=spectral_norm
        )
        return generator, discriminator

    raise ValueError(f"unknown training set kind {training_set.kind!r}; expected 'image' or 'points'")


__all__ = ["ConvDiscriminator", "ConvGenerator", "MLPDiscriminator", "MLPGenerator", "build_networks"]
