"""2D Gaussian mixtures for mode-collapse studies.

Both mixtures use the setting common in the mode-collapse literature:

- ``ring8``: 8 equal-weight Gaussians on a circle of radius 2, standard
  deviation 0.02.
- ``grid25``: 25 equal-weight Gaussians centred on the grid
  {-4, -2, 0, 2, 4}^2, standard deviation 0.05.
"""

import math

import torch

from nats.data.base import TrainingSet

RING8_RADIUS = 2.0
RING8_STD = 0.02
GRID25_SPACING = 2.0
GRID25_STD = 0.05


def ring8_centers() -> torch.Tensor:
    angles = torch.arange(8, dtype=torch.float64) * (2.0 * math.pi / 8)
    return (RING8_RADIUS * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid25_centers() -> torch.Tensor:
    axis = (torch.arange(5, dtype=torch.float32) - 2.0) * GRID25_SPACING
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)


MIXTURES = {
    "ring8": (ring8_centers, RING8_STD),
    "grid25": (grid25_centers, GRID25_STD),
}


def sample_mixture(name: str, num_points: int, generator: torch.Generator) -> torch.Tensor:
    """Draw ``num_points`` points from the mixture, modes chosen uniformly."""
    make_centers, std = MIXTURES[name]
    centers = make_centers()
    modes = torch.randint(len(centers), (num_points,), generator=generator)
    noise = torch.randn(num_points, 2, generator=generator) * std
    return centers[modes] + noise


def load_mixture(name: str, num_points: int = 20000, data_seed: int = 0) -> TrainingSet:
    """Generate a fixed training set of ``num_points`` points from ``data_seed``."""
    if name not in MIXTURES:
        raise ValueError(f"unknown mixture {name!r}; expected one of {', '.join(MIXTURES)}")
    if num_points <= 0:
        raise ValueError(f"num_points must be positive, got {num_points}")
    make_centers, std = MIXTURES[name]
    points = sample_mixture(name, num_points, torch.Generator().manual_seed(data_seed))
    return TrainingSet(
        name=name,
        kind="points",
        samples=points,
        info={"centers": make_centers(), "std": std},
    )
