"""The architectures that the ``architecture`` method setting selects.

Each entry builds a (generator, discriminator) pair from method settings and
a training set, and states the data kinds and image resolutions it
supports. ``auto`` is the default: the small DCGAN-style nets of
``conv.py`` for images of any supported size and the MLPs of ``mlp.py`` for
2D points. The others are the nets of the papers the grid reproduces. Their
modules document how ``g_width`` and ``d_width`` map to channel counts, and
each entry's ``published`` lists the settings of the published configurations.
"""

from dataclasses import dataclass, field
from typing import Callable

import torch.nn as nn

from nats.data import TrainingSet
from nats.networks.cfg_nets import CfgDcganDiscriminator, CfgDcganGenerator, CfgResNetDiscriminator, CfgResNetGenerator
from nats.networks.conv import ConvDiscriminator, ConvGenerator
from nats.networks.mlp import MLPDiscriminator, MLPGenerator
from nats.networks.resnet import ResNetDiscriminator, ResNetGenerator, sngan_layout, wgangp_layout

NetworkBuilder = Callable[[dict, TrainingSet, bool], tuple[nn.Module, nn.Module]]


@dataclass(frozen=True)
class PublishedNetworks:
    """Network settings of one published configuration.

    Attributes:
        dataset: the dataset the paper trained on.
        resolution: image side in pixels.
        channels: image channels.
        settings: ``z_dim``, ``g_width``, ``d_width``, ``g_batch_norm`` and
            ``d_batch_norm`` that rebuild the published nets.
        source: where the settings come from.
    """

    dataset: str
    resolution: int
    channels: int
    settings: dict
    source: str


@dataclass(frozen=True)
class Architecture:
    """One selectable architecture.

    Attributes:
        name: value of the ``architecture`` setting.
        build: ``build(settings, training_set, spectral_norm)`` returning
            ``(generator, discriminator)``.
        kinds: training-set kinds it supports (``"image"``, ``"points"``).
        resolutions: supported image sides, or ``None`` where the builder
            checks the resolution itself.
        description: one line for error messages and listings.
        published: the published configurations it reproduces.
    """

    name: str
    build: NetworkBuilder
    kinds: tuple[str, ...]
    resolutions: tuple[int, ...] | None
    description: str
    published: tuple[PublishedNetworks, ...] = field(default_factory=tuple)


def image_shape(training_set: TrainingSet) -> tuple[int, int]:
    """Return ``(channels, resolution)`` of a training set of square images.

    Raises:
        ValueError: for images that are not square.
    """
    channels, height, width = training_set.sample_shape
    if height != width:
        raise ValueError(f"only square images are supported, got {height}x{width} in {training_set.name!r}")
    return channels, height


def _build_auto(settings: dict, training_set: TrainingSet, spectral_norm: bool) -> tuple[nn.Module, nn.Module]:
    if training_set.kind == "points":
        generator = MLPGenerator(z_dim=settings["z_dim"], hidden=settings["g_width"], out_dim=training_set.sample_shape[0])
        discriminator = MLPDiscriminator(
            hidden=settings["d_width"], in_dim=training_set.sample_shape[0], spectral_norm=spectral_norm
        )
        return generator, discriminator

    channels, resolution = image_shape(training_set)
    generator = ConvGenerator(
        z_dim=settings["z_dim"],
        width=settings["g_width"],
        resolution=resolution,
        channels=channels,
        batch_norm=settings["g_batch_norm"],
    )
    discriminator = ConvDiscriminator(
        width=settings["d_width"],
        resolution=resolution,
        channels=channels,
        batch_norm=settings["d_batch_norm"],
        spectral_norm=spectral_norm,
    )
    return generator, discriminator


def _build_cfg_dcgan(settings: dict, training_set: TrainingSet, spectral_norm: bool) -> tuple[nn.Module, nn.Module]:
    channels, resolution = image_shape(training_set)
    generator = CfgDcganGenerator(settings["z_dim"], settings["g_width"], resolution, channels, settings["g_batch_norm"])
    discriminator = CfgDcganDiscriminator(settings["d_width"], resolution, channels, settings["d_batch_norm"], spectral_norm)
    return generator, discriminator


def _build_cfg_resnet4(settings: dict, training_set: TrainingSet, spectral_norm: bool) -> tuple[nn.Module, nn.Module]:
    channels, resolution = image_shape(training_set)
    generator = CfgResNetGenerator(settings["z_dim"], settings["g_width"], resolution, channels, settings["g_batch_norm"])
    discriminator = CfgResNetDiscriminator(settings["d_width"], resolution, channels, settings["d_batch_norm"], spectral_norm)
    return generator, discriminator


def _reject_discriminator_batch_norm(name: str, settings: dict) -> None:
    if settings["d_batch_norm"]:
        raise ValueError(
            f"the {name} discriminator has no batch norm in its paper; set d_batch_norm: false to use {name}"
        )


def _build_sngan_resnet(settings: dict, training_set: TrainingSet, spectral_norm: bool) -> tuple[nn.Module, nn.Module]:
    _reject_discriminator_batch_norm("sngan-resnet", settings)
    channels, resolution = image_shape(training_set)
    layout = sngan_layout(resolution, settings["g_width"], settings["d_width"])
    generator = ResNetGenerator(settings["z_dim"], layout, channels, settings["g_batch_norm"])
    discriminator = ResNetDiscriminator(layout, channels, spectral_norm)
    return generator, discriminator


def _build_wgangp_resnet(settings: dict, training_set: TrainingSet, spectral_norm: bool) -> tuple[nn.Module, nn.Module]:
    _reject_discriminator_batch_norm("wgangp-resnet", settings)
    channels, resolution = image_shape(training_set)
    layout = wgangp_layout(resolution, settings["g_width"], settings["d_width"])
    generator = ResNetGenerator(settings["z_dim"], layout, channels, settings["g_batch_norm"])
    discriminator = ResNetDiscriminator(layout, channels, spectral_norm)
    return generator, discriminator


def _networks(z_dim: int, g_width: int, d_width: int, g_batch_norm: bool, d_batch_norm: bool) -> dict:
    return {"z_dim": z_dim, "g_width": g_width, "d_width": d_width, "g_batch_norm": g_batch_norm, "d_batch_norm": d_batch_norm}


CFG_SOURCE = "riejohnson/cfg-gan-pt train_cfggan.py: dcganx/resnet4, d_dim = g_dim, norm_type 'bn', z_dim 100"
SNGAN_SOURCE = "Miyato et al. 2018, pfnet-research/sngan_projection configs/sn_cifar10_unconditional.yml (ch 256 / 128, dim_z 128)"
SNGAN_STL_SOURCE = "Miyato et al. 2018 STL-10 ResNet as in kwotsin/mimicry sngan_48.py (ngf 512, ndf 1024, nz 128)"
WGANGP_SOURCE = "Gulrajani et al. 2017, igul222/improved_wgan_training gan_cifar_resnet.py (DIM_G = DIM_D = 128, z 128)"

ARCHITECTURES: dict[str, Architecture] = {
    "auto": Architecture(
        name="auto",
        build=_build_auto,
        kinds=("image", "points"),
        resolutions=None,
        description="small DCGAN-style nets for images (sides 4 * 2^k, at least 8), MLPs for 2D points",
    ),
    "cfg-dcgan": Architecture(
        name="cfg-dcgan",
        build=_build_cfg_dcgan,
        kinds=("image",),
        resolutions=(16, 32, 64),
        description="the CFG authors' DCGAN extension (Johnson & Zhang), 5x5 convs with 1x1 convs between",
        published=(
            PublishedNetworks("mnist", 32, 1, _networks(100, 32, 32, True, True), CFG_SOURCE),
            PublishedNetworks("svhn", 32, 3, _networks(100, 64, 64, True, True), CFG_SOURCE),
        ),
    ),
    "cfg-resnet4": Architecture(
        name="cfg-resnet4",
        build=_build_cfg_resnet4,
        kinds=("image",),
        resolutions=(64,),
        description="the CFG authors' 4-block ResNet for 64x64 images (Johnson & Zhang)",
        published=(
            PublishedNetworks("lsun-bedroom", 64, 3, _networks(100, 64, 64, True, True), CFG_SOURCE),
            PublishedNetworks("lsun-church", 64, 3, _networks(100, 64, 64, True, True), CFG_SOURCE),
        ),
    ),
    "sngan-resnet": Architecture(
        name="sngan-resnet",
        build=_build_sngan_resnet,
        kinds=("image",),
        resolutions=(32, 48),
        description="the SNGAN ResNet G and D (Miyato et al. 2018) for CIFAR-10 and STL-10",
        published=(
            PublishedNetworks("cifar10", 32, 3, _networks(128, 256, 128, True, False), SNGAN_SOURCE),
            PublishedNetworks("stl10", 48, 3, _networks(128, 512, 1024, True, False), SNGAN_STL_SOURCE),
        ),
    ),
    "wgangp-resnet": Architecture(
        name="wgangp-resnet",
        build=_build_wgangp_resnet,
        kinds=("image",),
        resolutions=(32,),
        description="the WGAN-GP CIFAR-10 ResNet (Gulrajani et al. 2017)",
        published=(PublishedNetworks("cifar10", 32, 3, _networks(128, 128, 128, True, False), WGANGP_SOURCE),),
    ),
}
