"""The CFG authors' nets: a DCGAN extension and a 4-block ResNet.

Layer lists read from ``netdef.py`` of riejohnson/cfg-gan-pt, the PyTorch
code of Johnson & Zhang's CFG-GAN (ICML 2018; TPAMI 2019). Its
``train_cfggan.py`` picks the DCGAN extension (``dcganx``) for MNIST and
SVHN at 32x32 and the 4-block ResNet (``resnet4``) for 64x64 LSUN. Batch
norm is switchable there (``--norm_type bn`` or ``none``).

DCGAN extension, with ``depth = log2(resolution / 4)`` so that the bottom
map is 4x4 (the authors use depth 3 at 32x32 and 4 at 64x64; 16x16 with
depth 2 is our extension for the bundled digits):

- G: z -> linear -> (width * 2^(depth-1), 4, 4); ``depth - 1`` blocks of
  ReLU, 5x5 transposed conv with stride 2 halving the channels, [batch
  norm], ReLU, 1x1 conv, [batch norm]; then ReLU, 5x5 transposed conv with
  stride 2 to the image channels, tanh.
- D: 5x5 conv with stride 2 to ``width`` channels, LeakyReLU(0.2); ``depth
  - 1`` blocks of 5x5 conv with stride 2 doubling the channels, [batch
  norm], LeakyReLU(0.2), 1x1 conv, [batch norm], LeakyReLU(0.2); then a
  linear layer from the flattened 4x4 map to one score.

4-block ResNet for 64x64 (bottom map resolution / 16):

- G: z -> linear -> (8 * width, 4, 4); four blocks to 4w, 2w, w, w
  channels, each doubling the resolution; then ReLU, 3x3 conv, tanh. A G
  block computes ``h = ReLU(x)``, then nearest 2x upsampling, 3x3 conv,
  ReLU, 3x3 conv, [batch norm], plus a shortcut of a bias-free 1x1 conv of
  ``h`` upsampled.
- D: four blocks to w, 2w, 4w, 8w channels, each halving the resolution;
  then ReLU and a linear layer from the flattened 4x4 map. A D block
  computes ``h = ReLU(x)`` (the image itself in the first block), then a
  3x3 conv (to the output channels in the first block, keeping the input
  channels in the others), ReLU, 3x3 conv to the output channels, [batch
  norm], 2x2 average pooling, plus a shortcut of a bias-free 1x1 conv of
  ``h`` pooled.

Both residual paths read the rectified input ``h`` because the authors'
code applies an in-place ReLU to the block input before either path reads
it. We reproduce the function computed, not the in-place mutation.

``g_width`` is the authors' ``g_dim`` (channels of G's last block) and
``d_width`` their ``d_dim`` (channels of D's first layer): 32 for MNIST,
64 for SVHN and LSUN. z has 100 entries in their code.

Initialisation follows the authors' code: conv and transposed-conv weights
N(0, 0.01^2), the linear layers and the 1x1 shortcut convs Kaiming-normal
(fan in, gain sqrt(2)), batch-norm scales U(0, 1), all biases zero.

Deliberate difference: in the authors' D the biases of the convs inside
blocks are allocated but never applied (their parameter lookup uses a key
without the separating dot). Ours are applied and counted.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm as apply_spectral_norm

BOTTOM_RESOLUTION = 4
CONV_STD = 0.01
LEAKY_SLOPE = 0.2
DCGAN_KERNEL = 5
RESNET_BLOCKS = 4


def dcgan_depth(resolution: int) -> int:
    """Return the number of stride-2 layers that take a 4x4 map to ``resolution``.

    Raises:
        ValueError: unless ``resolution`` is 4 times a power of two and at
            least 16.
    """
    depth = int(round(math.log2(resolution / BOTTOM_RESOLUTION))) if resolution > 0 else 0
    if depth < 2 or BOTTOM_RESOLUTION * 2**depth != resolution:
        raise ValueError(f"cfg-dcgan needs a resolution of 4 times a power of two, at least 16; got {resolution}")
    return depth


def _normal_conv(module: nn.Module) -> nn.Module:
    nn.init.normal_(module.weight, std=CONV_STD)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    return module


def _kaiming(module: nn.Module) -> nn.Module:
    nn.init.kaiming_normal_(module.weight)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    return module


def _batch_norm(channels: int, enabled: bool) -> nn.Module:
    if not enabled:
        return nn.Identity()
    norm = nn.BatchNorm2d(channels)
    nn.init.uniform_(norm.weight, 0.0, 1.0)
    return norm


def _upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


def _wrapper(spectral_norm: bool):
    return apply_spectral_norm if spectral_norm else (lambda module: module)


class CfgDcganGenerator(nn.Module):
    """The authors' DCGAN-extension G (``dcganx_G``).

    Args:
        z_dim: latent size.
        width: channels of the last block (``g_dim``).
        resolution: output side: 16, 32, 64, ... (4 times a power of two).
        channels: image channels.
        batch_norm: batch norm after every conv inside blocks.
    """

    def __init__(self, z_dim: int, width: int, resolution: int, channels: int, batch_norm: bool = True):
        super().__init__()
        depth = dcgan_depth(resolution)
        self.z_dim = z_dim
        self.top_channels = width * 2 ** (depth - 1)
        self.project = _kaiming(nn.Linear(z_dim, self.top_channels * BOTTOM_RESOLUTION * BOTTOM_RESOLUTION))

        layers: list[nn.Module] = []
        in_channels = self.top_channels
        for _ in range(depth - 1):
            out_channels = in_channels // 2
            layers += [
                nn.ReLU(),
                _normal_conv(nn.ConvTranspose2d(in_channels, out_channels, DCGAN_KERNEL, stride=2, padding=2, output_padding=1)),
                _batch_norm(out_channels, batch_norm),
                nn.ReLU(),
                _normal_conv(nn.Conv2d(out_channels, out_channels, kernel_size=1)),
                _batch_norm(out_channels, batch_norm),
            ]
            in_channels = out_channels
        layers += [
            nn.ReLU(),
            _normal_conv(nn.ConvTranspose2d(in_channels, channels, DCGAN_KERNEL, stride=2, padding=2, output_padding=1)),
            nn.Tanh(),
        ]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.project(z).view(z.shape[0], self.top_channels, BOTTOM_RESOLUTION, BOTTOM_RESOLUTION)
        return self.body(x)


class CfgDcganDiscriminator(nn.Module):
    """The authors' DCGAN-extension D (``dcganx_D``).

    Args:
        width: channels of the first conv (``d_dim``); doubled by every block.
        resolution: input side: 16, 32, 64, ... (4 times a power of two).
        channels: image channels.
        batch_norm: batch norm after every conv inside blocks.
        spectral_norm: spectrally normalise every conv and linear layer.
    """

    def __init__(self, width: int, resolution: int, channels: int, batch_norm: bool = False, spectral_norm: bool = False):
        super().__init__()
        depth = dcgan_depth(resolution)
        wrap = _wrapper(spectral_norm)

        layers: list[nn.Module] = [
            wrap(_normal_conv(nn.Conv2d(channels, width, DCGAN_KERNEL, stride=2, padding=2))),
            nn.LeakyReLU(LEAKY_SLOPE),
        ]
        in_channels = width
        for _ in range(depth - 1):
            out_channels = in_channels * 2
            layers += [
                wrap(_normal_conv(nn.Conv2d(in_channels, out_channels, DCGAN_KERNEL, stride=2, padding=2))),
                _batch_norm(out_channels, batch_norm),
                nn.LeakyReLU(LEAKY_SLOPE),
                wrap(_normal_conv(nn.Conv2d(out_channels, out_channels, kernel_size=1))),
                _batch_norm(out_channels, batch_norm),
                nn.LeakyReLU(LEAKY_SLOPE),
            ]
            in_channels = out_channels
        self.body = nn.Sequential(*layers)
        self.head = wrap(_kaiming(nn.Linear(in_channels * BOTTOM_RESOLUTION * BOTTOM_RESOLUTION, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).flatten(1)).squeeze(1)


def _check_resnet_resolution(resolution: int) -> int:
    if resolution != 64:
        raise ValueError(f"cfg-resnet4 supports 64x64 images, got {resolution}x{resolution}")
    return resolution // 2**RESNET_BLOCKS


class CfgResNetGeneratorBlock(nn.Module):
    """G block of the 4-block ResNet; doubles the resolution."""

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool):
        super().__init__()
        self.conv1 = _normal_conv(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        self.conv2 = _normal_conv(nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1))
        self.norm = _batch_norm(out_channels, batch_norm)
        self.shortcut = _kaiming(nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(x)
        main = self.norm(self.conv2(F.relu(self.conv1(_upsample(h)))))
        return main + _upsample(self.shortcut(h))


class CfgResNetDiscriminatorBlock(nn.Module):
    """D block of the 4-block ResNet; halves the resolution.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        batch_norm: batch norm after the second conv.
        first: the block that reads the image: no leading ReLU, and its
            first conv goes straight to ``out_channels``.
        spectral_norm: spectrally normalise every conv.
    """

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool, first: bool, spectral_norm: bool):
        super().__init__()
        wrap = _wrapper(spectral_norm)
        hidden_channels = out_channels if first else in_channels
        self.first = first
        self.conv1 = wrap(_normal_conv(nn.Conv2d(in_channels, hidden_channels, kernel_size=3, padding=1)))
        self.conv2 = wrap(_normal_conv(nn.Conv2d(hidden_channels, out_channels, kernel_size=3, padding=1)))
        self.norm = _batch_norm(out_channels, batch_norm)
        self.shortcut = wrap(_kaiming(nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        main = F.avg_pool2d(self.norm(self.conv2(F.relu(self.conv1(h)))), 2)
        return main + self.shortcut(F.avg_pool2d(h, 2))


class CfgResNetGenerator(nn.Module):
    """The authors' 4-block ResNet G (``resnet4_G``) for 64x64 images.

    Args:
        z_dim: latent size.
        width: channels of the last two blocks (``g_dim``).
        resolution: must be 64.
        channels: image channels.
        batch_norm: batch norm at the end of every block's main path.
    """

    def __init__(self, z_dim: int, width: int, resolution: int, channels: int, batch_norm: bool = True):
        super().__init__()
        self.bottom = _check_resnet_resolution(resolution)
        self.z_dim = z_dim
        self.top_channels = width * 8
        self.project = _kaiming(nn.Linear(z_dim, self.top_channels * self.bottom * self.bottom))
        block_channels = (width * 8, width * 4, width * 2, width, width)
        self.blocks = nn.Sequential(
            *(CfgResNetGeneratorBlock(block_channels[i], block_channels[i + 1], batch_norm) for i in range(RESNET_BLOCKS))
        )
        self.output = _normal_conv(nn.Conv2d(width, channels, kernel_size=3, padding=1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(z.shape[0], self.top_channels, self.bottom, self.bottom)
        return torch.tanh(self.output(F.relu(self.blocks(h))))


class CfgResNetDiscriminator(nn.Module):
    """The authors' 4-block ResNet D (``resnet4_D``) for 64x64 images.

    Args:
        width: channels of the first block (``d_dim``); doubled by every block.
        resolution: must be 64.
        channels: image channels.
        batch_norm: batch norm at the end of every block's main path.
        spectral_norm: spectrally normalise every conv and linear layer.
    """

    def __init__(self, width: int, resolution: int, channels: int, batch_norm: bool = False, spectral_norm: bool = False):
        super().__init__()
        bottom = _check_resnet_resolution(resolution)
        block_channels = (channels, width, width * 2, width * 4, width * 8)
        self.blocks = nn.Sequential(
            *(
                CfgResNetDiscriminatorBlock(block_channels[i], block_channels[i + 1], batch_norm, first=i == 0, spectral_norm=spectral_norm)
                for i in range(RESNET_BLOCKS)
            )
        )
        self.head = _wrapper(spectral_norm)(_kaiming(nn.Linear(width * 8 * bottom * bottom, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.relu(self.blocks(x)).flatten(1)).squeeze(1)
