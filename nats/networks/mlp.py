"""Multilayer perceptrons for 2D toy data."""

import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import spectral_norm as apply_spectral_norm

NUM_HIDDEN_LAYERS = 3


class MLPGenerator(nn.Module):
    """Map latent vectors to points with three ReLU hidden layers."""

    def __init__(self, z_dim: int, hidden: int, out_dim: int = 2):
        super().__init__()
        self.z_dim = z_dim
        layers: list[nn.Module] = []
        in_features = z_dim
        for _ in range(NUM_HIDDEN_LAYERS):
            layers += [nn.Linear(in_features, hidden), nn.ReLU()]
            in_features = hidden
        layers.append(nn.Linear(in_features, out_dim))
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z)


class MLPDiscriminator(nn.Module):
    """Map points to one raw score each, with three LeakyReLU hidden layers."""

    def __init__(self, hidden: int, in_dim: int = 2, spectral_norm: bool = False):
        super().__init__()
        wrap = apply_spectral_norm if spectral_norm else (lambda module: module)
        layers: list[nn.Module] = []
        in_features = in_dim
        for _ in range(NUM_HIDDEN_LAYERS):
            layers += [wrap(nn.Linear(in_features, hidden)), nn.LeakyReLU(0.2)]
            in_features = hidden
        layers.append(wrap(nn.Linear(in_features, 1)))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).squeeze(1)
