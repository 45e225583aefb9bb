"""Density and coverage (Naeem et al., ICML 2020) from extracted features.

Both use the k-nearest-neighbour balls of the real features:

- density: the mean over generated samples of the number of real balls that
  contain the sample, divided by k;
- coverage: the share of real samples whose ball contains at least one
  generated sample.

``density_coverage`` calls the ``prdc`` package (0.2) when its full distance
matrices fit in ``max_matrix_bytes``. Above that (50K x 50K float32 is 10 GB
per matrix) it switches to ``batched_density_coverage``, which holds one
block of rows at a time. The two agree to the last sample on sets without
distance ties, which the tests check.
"""

import contextlib
import io
import logging

import numpy as np
import torch
from tqdm import tqdm

logger = logging.getLogger(__name__)

# prdc 0.2 keeps real x real, generated x generated and real x generated
# distances in memory at once, as float32.
DEFAULT_MAX_MATRIX_BYTES = 2 * 1024**3
BLOCK_ROWS = 1024


def prdc_matrix_bytes(num_real: int, num_generated: int) -> int:
    """Return the bytes of the distance matrices ``prdc.compute_prdc`` keeps in memory at once."""
    return 4 * (num_real**2 + num_generated**2 + num_real * num_generated)


def _as_float32(features) -> np.ndarray:
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2:
        raise ValueError(f"expected features of shape (N, D), got {features.shape}")
    return features


def _check_neighbourhood(num_real: int, nearest_k: int) -> None:
    if not isinstance(nearest_k, int) or nearest_k < 1:
        raise ValueError(f"nearest_k must be a positive integer, got {nearest_k!r}")
    if num_real <= nearest_k:
        raise ValueError(f"density and coverage need more than nearest_k = {nearest_k} real samples, got {num_real}")


def _block_distances(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    # float64 keeps the distances as close to scikit-learn's (used by prdc)
    # as the subtraction-free matrix-product form allows.
    return torch.cdist(rows, columns, compute_mode="use_mm_for_euclid_dist").clamp_min_(0.0)


def batched_density_coverage(
    real_features,
    generated_features,
    nearest_k: int,
    block_rows: int = BLOCK_ROWS,
) -> dict[str, float]:
    """Compute density and coverage holding one block of distance rows at a time.

    Memory is about ``block_rows`` x (number of real samples) x 8 bytes, so
    50K x 50K features need about 400 MB instead of prdc's 30 GB.

    Args:
        real_features: (M, D) real features.
        generated_features: (N, D) generated features.
        nearest_k: k of the k-nearest-neighbour balls.
        block_rows: rows of each distance block.

    Returns:
        ``{"density": ..., "coverage": ...}``.
    """
    real = torch.from_numpy(_as_float32(real_features)).double()
    generated = torch.from_numpy(_as_float32(generated_features)).double()
    _check_neighbourhood(len(real), nearest_k)

    # The k-th neighbour of a real sample among the real samples, itself
    # included at distance 0, as prdc does.
    radii = torch.empty(len(real), dtype=torch.float64)
    for start in tqdm(range(0, len(real), block_rows), desc="real k-NN radii", unit="block", leave=False, disable=None):
        distances = _block_distances(real[start : start + block_rows], real)
        radii[start : start + block_rows] = distances.topk(nearest_k + 1, dim=1, largest=False).values[:, -1]

    balls_containing = 0.0
    nearest_generated = torch.full((len(real),), float("inf"), dtype=torch.float64)
    for start in tqdm(range(0, len(generated), block_rows), desc="density and coverage", unit="block", leave=False, disable=None):
        distances = _block_distances(generated[start : start + block_rows], real)
        balls_containing += float((distances < radii).sum())
        nearest_generated = torch.minimum(nearest_generated, distances.min(dim=0).values)

    density = balls_containing / nearest_k / len(generated)
    coverage = float((nearest_generated < radii).double().mean())
    return {"density": density, "coverage": coverage}


def density_coverage(
    real_features,
    generated_features,
    nearest_k: int,
    max_matrix_bytes: int = DEFAULT_MAX_MATRIX_BYTES,
) -> dict[str, float]:
    """Compute density and coverage, with ``prdc`` where its matrices fit in memory.

    Args:
        real_features: (M, D) real features (tensor or array).
        generated_features: (N, D) generated features.
        nearest_k: k of the k-nearest-neighbour balls.
        max_matrix_bytes: largest memory for prdc's distance matrices;
            above it the batched computation runs.

    Returns:
        ``{"density": ..., "coverage": ..., "implementation": "prdc 0.2" or "batched"}``.
    """
    real = _as_float32(real_features)
    generated = _as_float32(generated_features)
    _check_neighbourhood(len(real), nearest_k)

    if prdc_matrix_bytes(len(real), len(generated)) > max_matrix_bytes:
        logger.info(
            "density and coverage of %d real and %d generated samples: batched, because prdc's matrices would "
            "need %.1f GB", len(real), len(generated), prdc_matrix_bytes(len(real), len(generated)) / 1e9,
        )
        return {**batched_density_coverage(real, generated, nearest_k), "implementation": "batched"}

    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):
        result = compute_prdc(real_features=real, fake_features=generated, nearest_k=nearest_k)
    return {"density": float(result["density"]), "coverage": float(result["coverage"]), "implementation": "prdc 0.2"}
