"""The mixtures protocol: modes covered, high-quality share and reverse KL.

The protocol follows VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al.
2018). Every sample is assigned to its nearest mixture centre. A sample is of
high quality if it lies within ``quality_stds`` standard deviations of that
centre (Euclidean distance at most ``quality_stds * std``). A mode is covered
if at least ``min_mode_samples`` high-quality samples are assigned to it.

- ``modes<n>``: number of covered modes.
- ``hq<n>``: share of high-quality samples among all samples.
- ``rkl<n>``: reverse KL divergence ``sum_i q_i log(q_i * M)`` of the
  histogram q of high-quality samples over the M modes against the uniform
  distribution, with 0 log 0 = 0. It lies in [0, log M]. When no sample is
  of high quality, q is undefined and the value is set to log M, the value
  of a sampler that puts all its mass on one mode. Such a run then never
  scores better than full mode collapse, and averages over seeds stay finite.

``<n>`` is the number of samples, written by ``count_label``.
"""

import logging
import math
from dataclasses import dataclass

import torch

from nats.metrics.records import MetricValue, SampleCountError, count_label

logger = logging.getLogger(__name__)


@dataclass
class ModeStatistics:
    """Per-sample and per-mode results of the mode assignment.

    Attributes:
        nearest_mode: index of the nearest centre of each sample; -1 for
            non-finite samples.
        high_quality: whether each sample lies within the quality radius of
            its nearest centre.
        high_quality_counts: number of high-quality samples per mode.
        modes_covered: modes with at least ``min_mode_samples`` high-quality
            samples.
        high_quality_share: share of high-quality samples among all samples.
        reverse_kl: reverse KL of the high-quality histogram against uniform.
    """

    nearest_mode: torch.Tensor
    high_quality: torch.Tensor
    high_quality_counts: torch.Tensor
    modes_covered: int
    high_quality_share: float
    reverse_kl: float


def reverse_kl_to_uniform(counts: torch.Tensor) -> float:
    """Return ``sum_i q_i log(q_i * M)`` for the histogram ``counts`` over M bins.

    Empty bins contribute 0 (0 log 0 = 0). An all-zero histogram returns
    log M, the maximum of the divergence.
    """
    num_modes = len(counts)
    total = float(counts.sum())
    if total == 0:
        return math.log(num_modes)
    shares = counts.double() / total
    nonzero = shares[shares > 0]
    return float((nonzero * torch.log(nonzero * num_modes)).sum())


def mode_statistics(
    points: torch.Tensor,
    centers: torch.Tensor,
    std: float,
    quality_stds: float,
    min_mode_samples: int,
) -> ModeStatistics:
    """Assign points to their nearest centre and count high-quality points per mode.

    Non-finite points (from a diverged generator) are counted as samples of
    low quality, assigned to no mode, and logged as a warning.

    Args:
        points: samples of shape (N, 2).
        centers: mixture centres of shape (M, 2).
        std: standard deviation of every mixture component.
        quality_stds: quality radius in standard deviations.
        min_mode_samples: high-quality samples a mode needs to be covered.

    Returns:
        The statistics of the assignment.
    """
    points = points.detach().to("cpu", torch.float64)
    centers = centers.detach().to("cpu", torch.float64)
    finite = torch.isfinite(points).all(dim=1)
    num_non_finite = int((~finite).sum())
    if num_non_finite:
        logger.warning("%d of %d points are NaN or infinite; counting them as low quality", num_non_finite, len(points))

    distances = torch.cdist(torch.where(finite[:, None], points, torch.zeros_like(points)), centers)
    nearest_distance, nearest_mode = distances.min(dim=1)
    nearest_mode = torch.where(finite, nearest_mode, torch.full_like(nearest_mode, -1))
    high_quality = finite & (nearest_distance <= quality_stds * std)

    high_quality_counts = torch.bincount(nearest_mode[high_quality], minlength=len(centers))
    return ModeStatistics(
        nearest_mode=nearest_mode,
        high_quality=high_quality,
        high_quality_counts=high_quality_counts,
        modes_covered=int((high_quality_counts >= min_mode_samples).sum()),
        high_quality_share=float(high_quality.double().mean()),
        reverse_kl=reverse_kl_to_uniform(high_quality_counts),
    )


def mixture_metric_names(num_samples: int) -> dict[str, str]:
    """Return the metric names of the mixtures protocol, by kind (modes, hq, rkl)."""
    label = count_label(num_samples)
    return {"modes": f"modes{label}", "hq": f"hq{label}", "rkl": f"rkl{label}"}


def _check_settings(settings: dict) -> tuple[int, float, int]:
    missing = [key for key in ("num_samples", "quality_stds", "min_mode_samples") if key not in settings]
    if missing:
        raise ValueError(f"mixtures evaluation settings are missing {missing}; got keys {sorted(settings)}")
    num_samples = settings["num_samples"]
    quality_stds = settings["quality_stds"]
    min_mode_samples = settings["min_mode_samples"]
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"evaluation.mixtures.num_samples must be a positive integer, got {num_samples!r}")
    if isinstance(quality_stds, bool) or not isinstance(quality_stds, (int, float)) or not quality_stds > 0:
        raise ValueError(f"evaluation.mixtures.quality_stds must be a positive number, got {quality_stds!r}")
    if isinstance(min_mode_samples, bool) or not isinstance(min_mode_samples, int) or min_mode_samples < 1:
        raise ValueError(
            f"evaluation.mixtures.min_mode_samples must be a positive integer, got {min_mode_samples!r}"
        )
    return num_samples, float(quality_stds), min_mode_samples


def evaluate_mixture(
    points: torch.Tensor,
    centers: torch.Tensor,
    std: float,
    settings: dict,
    reference: str,
) -> tuple[list[MetricValue], dict]:
    """Score 2D samples against the mixture they should reproduce.

    If more than ``num_samples`` points are given, the first ``num_samples``
    are used.

    Args:
        points: generated points of shape (N, 2).
        centers: mixture centres of shape (M, 2).
        std: standard deviation of every mixture component.
        settings: the ``evaluation`` block of a run config, with
            ``num_samples``, ``quality_stds`` and ``min_mode_samples``.
        reference: name of the mixture, recorded in the protocol.

    Returns:
        The metric values (modes covered, high-quality share, reverse KL)
        and the protocol, without the run-specific ``sample_mode`` and
        ``generation_seed``.

    Raises:
        SampleCountError: if fewer than ``num_samples`` points are given.
        ValueError: for points or centres that are not (N, 2) tensors, or
            invalid settings.
    """
    num_samples, quality_stds, min_mode_samples = _check_settings(settings)
    for name, tensor in (("points", points), ("centers", centers)):
        if not isinstance(tensor, torch.Tensor) or tensor.dim() != 2 or tensor.shape[1] != 2:
            shape = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise ValueError(f"expected {name} as a tensor of shape (N, 2), got {shape}")
    if not std > 0:
        raise ValueError(f"mixture std must be positive, got {std!r}")
    if len(points) < num_samples:
        raise SampleCountError(
            f"got {len(points)} points but the protocol needs num_samples = {num_samples}; draw more samples"
        )

    statistics = mode_statistics(points[:num_samples], centers, std, quality_stds, min_mode_samples)
    names = mixture_metric_names(num_samples)
    values = [
        MetricValue(names["modes"], float(statistics.modes_covered), higher_is_better=True),
        MetricValue(names["hq"], statistics.high_quality_share, higher_is_better=True),
        MetricValue(names["rkl"], statistics.reverse_kl, higher_is_better=False),
    ]
    protocol = {
        "name": "mixtures",
        "reference": reference,
        "num_modes": len(centers),
        "std": float(std),
        "num_samples": num_samples,
        "quality_stds": quality_stds,
        "min_mode_samples": min_mode_samples,
        "rkl_without_high_quality": "log(num_modes)",
        "torch": torch.__version__,
    }
    return values, protocol
