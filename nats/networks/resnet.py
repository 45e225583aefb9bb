"""ResNet generators and discriminators of SNGAN (32x32, 48x48) and WGAN-GP (32x32).

Sources of the layer lists:

- SNGAN (Miyato et al., ICLR 2018) at 32x32: ``gen_models/resnet_32.py``,
  ``dis_models/snresnet_32.py`` and the two ``resblocks.py`` of the
  authors' Chainer code, pfnet-research/sngan_projection.
- SNGAN at 48x48 (STL-10): the authors released no 48x48 file, so the
  layout follows ``torch_mimicry/nets/sngan/sngan_48.py`` of
  kwotsin/mimicry, built from the same blocks.
- WGAN-GP (Gulrajani et al., NeurIPS 2017): ``gan_cifar_resnet.py`` of
  igul222/improved_wgan_training (TensorFlow), unconditional.

Generator: z -> linear -> (c_0, b, b) map -> up blocks -> batch norm ->
ReLU -> 3x3 conv -> tanh. An up block is batch norm, ReLU, nearest 2x
upsampling, 3x3 conv, batch norm, ReLU, 3x3 conv, plus a 1x1 conv shortcut
of the upsampled input.

Discriminator: a first block (3x3 conv, ReLU, 3x3 conv, 2x2 average
pooling, plus a 1x1 conv shortcut of the pooled image), then blocks of ReLU,
3x3 conv (in -> in channels), ReLU, 3x3 conv (in -> out channels) and
optional pooling, with a 1x1 conv shortcut where the block pools or changes
the channel count and the identity otherwise. Then ReLU, a global sum
(SNGAN) or mean (WGAN-GP) over positions, and a linear layer to one score.
With ``spectral_norm`` every conv and linear layer of D is spectrally
normalised.

How ``g_width`` and ``d_width`` set the channel counts (published values in
brackets):

=============  ==========  ===========================  ============================
architecture   resolution  G: bottom map, block outputs  D: block outputs
=============  ==========  ===========================  ============================
sngan-resnet   32          4x4, g, g, g (g = 256)        d, d, d, d (d = 128)
sngan-resnet   48          6x6, g, g/2, g/4, g/8 (512)   d/16, d/8, d/4, d/2, d (1024)
wgangp-resnet  32          4x4, g, g, g (g = 128)        d, d, d, d (d = 128)
=============  ==========  ===========================  ============================

The bottom map has g channels. Both papers draw z of size 128.

Initialisation follows the same code: Glorot-uniform weights with gain
sqrt(2) on the 3x3 convs inside blocks, gain 1 on shortcuts, the input
linear layer, the output conv and the output linear layer, zero biases.
(Chainer's ``GlorotUniform(scale)`` and tflib's ``he_init`` uniform both
equal ``xavier_uniform_`` with that gain.)

Differences from the reference code: a 1x1 shortcut conv runs on whichever
side of the pooling or upsampling is smaller, which computes the same
function because a 1x1 conv commutes with nearest upsampling and with
average pooling. The SNGAN D keeps the bias of its output linear layer, as
the authors' larger nets in ``dis_models/snresnet.py`` do. Their 32x32
file leaves that one parameter out.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm as apply_spectral_norm

RESIDUAL_GAIN = math.sqrt(2.0)


@dataclass(frozen=True)
class ResNetLayout:
    """Channel counts of one ResNet G/D pair.

    Attributes:
        bottom: side of G's first feature map.
        generator_channels: G's channels at the bottom map, then after each
            up block.
        discriminator_channels: D's output channels of each block.
        discriminator_downsample: whether each D block halves the resolution.
        pooling: ``"sum"`` or ``"mean"`` over positions before D's output layer.
    """

    bottom: int
    generator_channels: tuple[int, ...]
    discriminator_channels: tuple[int, ...]
    discriminator_downsample: tuple[bool, ...]
    pooling: str


def _divide_width(width: int, divisor: int, setting: str, architecture: str, resolution: int) -> int:
    if width % divisor != 0:
        raise ValueError(
            f"{setting} {width} of {architecture} at {resolution}x{resolution} must be a multiple of "
            f"{divisor}, because its blocks use {setting}/{divisor} channels; set {setting} to a multiple of {divisor}"
        )
    return width // divisor


def sngan_layout(resolution: int, g_width: int, d_width: int) -> ResNetLayout:
    """Return the SNGAN ResNet layout for 32x32 (CIFAR-10) or 48x48 (STL-10) images.

    Raises:
        ValueError: for another resolution, or widths that the 48x48 nets
            cannot divide.
    """
    if resolution == 32:
        return ResNetLayout(
            bottom=4,
            generator_channels=(g_width,) * 4,
            discriminator_channels=(d_width,) * 4,
            discriminator_downsample=(True, True, False, False),
            pooling="sum",
        )
    if resolution == 48:
        _divide_width(g_width, 8, "g_width", "sngan-resnet", resolution)
        _divide_width(d_width, 16, "d_width", "sngan-resnet", resolution)
        return ResNetLayout(
            bottom=6,
            generator_channels=(g_width, g_width // 2, g_width // 4, g_width // 8),
            discriminator_channels=(d_width // 16, d_width // 8, d_width // 4, d_width // 2, d_width),
            discriminator_downsample=(True, True, True, True, False),
            pooling="sum",
        )
    raise ValueError(f"sngan-resnet supports 32x32 and 48x48 images, got {resolution}x{resolution}")


def wgangp_layout(resolution: int, g_width: int, d_width: int) -> ResNetLayout:
    """Return the WGAN-GP CIFAR-10 ResNet layout (32x32 only).

    Raises:
        ValueError: for another resolution.
    """
    if resolution != 32:
        raise ValueError(f"wgangp-resnet supports 32x32 images, got {resolution}x{resolution}")
    return ResNetLayout(
        bottom=4,
        generator_channels=(g_width,) * 4,
        discriminator_channels=(d_width,) * 4,
        discriminator_downsample=(True, True, False, False),
        pooling="mean",
    )


def _glorot(module: nn.Module, gain: float) -> nn.Module:
    nn.init.xavier_uniform_(module.weight, gain=gain)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    return module


def _upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class GeneratorBlock(nn.Module):
    """Pre-activation residual block that doubles the resolution."""

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels) if batch_norm else nn.Identity()
        self.conv1 = _glorot(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), RESIDUAL_GAIN)
        self.norm2 = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        self.conv2 = _glorot(nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1), RESIDUAL_GAIN)
        self.shortcut = _glorot(nn.Conv2d(in_channels, out_channels, kernel_size=1), 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(_upsample(F.relu(self.norm1(x))))
        h = self.conv2(F.relu(self.norm2(h)))
        return h + _upsample(self.shortcut(x))


class DiscriminatorBlock(nn.Module):
    """Residual block of D; the first block of a net skips the leading ReLU.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        downsample: halve the resolution with 2x2 average pooling.
        first: the block that reads the image: no leading ReLU, its first
            conv goes straight to ``out_channels`` and it always has a
            shortcut conv.
        spectral_norm: spectrally normalise every conv.
    """

    def __init__(self, in_channels: int, out_channels: int, downsample: bool, first: bool, spectral_norm: bool):
        super().__init__()
        wrap = apply_spectral_norm if spectral_norm else (lambda module: module)
        hidden_channels = out_channels if first else in_channels
        self.first = first
        self.downsample = downsample
        self.conv1 = wrap(_glorot(nn.Conv2d(in_channels, hidden_channels, kernel_size=3, padding=1), RESIDUAL_GAIN))
        self.conv2 = wrap(_glorot(nn.Conv2d(hidden_channels, out_channels, kernel_size=3, padding=1), RESIDUAL_GAIN))
        self.shortcut = None
        if first or downsample or in_channels != out_channels:
            self.shortcut = wrap(_glorot(nn.Conv2d(in_channels, out_channels, kernel_size=1), 1.0))

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2) if self.downsample else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = self._pool(self.conv2(F.relu(self.conv1(h))))

        skip = self._pool(x)
        if self.shortcut is not None:
            skip = self.shortcut(skip)
        return h + skip


class ResNetGenerator(nn.Module):
    """Map latent vectors of size ``z_dim`` to images in [-1, 1].

    Args:
        z_dim: latent size.
        layout: channel counts; the output side is ``layout.bottom`` doubled
            once per up block.
        channels: image channels.
        batch_norm: batch norm before every ReLU (the published nets have it).
    """

    def __init__(self, z_dim: int, layout: ResNetLayout, channels: int, batch_norm: bool = True):
        super().__init__()
        self.z_dim = z_dim
        self.bottom = layout.bottom
        self.bottom_channels = layout.generator_channels[0]
        self.project = _glorot(nn.Linear(z_dim, self.bottom_channels * self.bottom * self.bottom), 1.0)

        pairs = zip(layout.generator_channels[:-1], layout.generator_channels[1:])
        self.blocks = nn.Sequential(*(GeneratorBlock(in_channels, out_channels, batch_norm) for in_channels, out_channels in pairs))

        last_channels = layout.generator_channels[-1]
        self.norm = nn.BatchNorm2d(last_channels) if batch_norm else nn.Identity()
        self.output = _glorot(nn.Conv2d(last_channels, channels, kernel_size=3, padding=1), 1.0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(z.shape[0], self.bottom_channels, self.bottom, self.bottom)
        h = self.blocks(h)
        return torch.tanh(self.output(F.relu(self.norm(h))))


class ResNetDiscriminator(nn.Module):
    """Map images to one raw score each.

    Args:
        layout: channel counts, pooling of each block and the global pooling.
        channels: image channels.
        spectral_norm: spectrally normalise every conv and linear layer.
    """

    def __init__(self, layout: ResNetLayout, channels: int, spectral_norm: bool = False):
        super().__init__()
        if layout.pooling not in ("sum", "mean"):
            raise ValueError(f"global pooling must be 'sum' or 'mean', got {layout.pooling!r}")
        self.pooling = layout.pooling

        blocks = []
        in_channels = channels
        for index, (out_channels, downsample) in enumerate(zip(layout.discriminator_channels, layout.discriminator_downsample)):
            blocks.append(DiscriminatorBlock(in_channels, out_channels, downsample, first=index == 0, spectral_norm=spectral_norm))
            in_channels = out_channels
        self.blocks = nn.Sequential(*blocks)

        wrap = apply_spectral_norm if spectral_norm else (lambda module: module)
        self.output = wrap(_glorot(nn.Linear(in_channels, 1), 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.blocks(x))
        h = h.sum(dim=(2, 3)) if self.pooling == "sum" else h.mean(dim=(2, 3))
        return self.output(h).squeeze(1)
