"""DCGAN-style convolutional nets for small square images (16x16, 32x32).

The generator starts from a 4x4 map of ``4 * width`` channels and doubles
the resolution with transposed convolutions until it reaches the target;
the discriminator mirrors it with strided convolutions. Both output raw
values: a tanh image for G, an unbounded scalar for D.
"""

import math

import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import spectral_norm as apply_spectral_norm

BASE_RESOLUTION = 4


def _num_doublings(resolution: int) -> int:
    doublings = int(round(math.log2(resolution / BASE_RESOLUTION)))
    if resolution < 8 or BASE_RESOLUTION * 2**doublings != resolution:
        raise ValueError(f"image resolution must be 4 times a power of two and at least 8, got {resolution}")
    return doublings


class ConvGenerator(nn.Module):
    """Map latent vectors of size ``z_dim`` to images in [-1, 1]."""

    def __init__(self, z_dim: int, width: int, resolution: int, channels: int, batch_norm: bool = True):
        super().__init__()
        doublings = _num_doublings(resolution)
        self.z_dim = z_dim
        top_channels = width * 2 ** (doublings - 1)
        self.project = nn.Linear(z_dim, top_channels * BASE_RESOLUTION * BASE_RESOLUTION)
        self.top_channels = top_channels

        layers: list[nn.Module] = []
        in_channels = top_channels
        for index in range(doublings):
            out_channels = max(width, in_channels // 2) if index < doublings - 1 else width
            layers += [
                nn.BatchNorm2d(in_channels) if batch_norm else nn.Identity(),
                nn.ReLU(),
                nn.ConvTranspose2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1),
            ]
            in_channels = out_channels
        layers += [
            nn.BatchNorm2d(in_channels) if batch_norm else nn.Identity(),
            nn.ReLU(),
            nn.Conv2d(in_channels, channels, kernel_size=3, padding=1),
            nn.Tanh(),
        ]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.project(z).view(z.shape[0], self.top_channels, BASE_RESOLUTION, BASE_RESOLUTION)
        return self.body(x)


class ConvDiscriminator(nn.Module):
    """Map images to one raw score each."""

    def __init__(
        self,
        width: int,
        resolution: int,
        channels: int,
        batch_norm: bool = False,
        spectral_norm: bool = False,
    ):
        super().__init__()
        doublings = _num_doublings(resolution)
        wrap = apply_spectral_norm if spectral_norm else (lambda module: module)

        layers: list[nn.Module] = [wrap(nn.Conv2d(channels, width, kernel_size=3, padding=1)), nn.LeakyReLU(0.2)]
        in_channels = width
        for index in range(doublings):
            out_channels = width * 2 ** (index + 1)
            layers += [wrap(nn.Conv2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1))]
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.LeakyReLU(0.2))
            in_channels = out_channels
        self.body = nn.Sequential(*layers)
        self.head = wrap(nn.Linear(in_channels * BASE_RESOLUTION * BASE_RESOLUTION, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).flatten(1)).squeeze(1)
