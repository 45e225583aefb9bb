"""Training sets, looked up by name through one registry."""

from nats.data.base import TrainingSet, RealBatches
from nats.data.digits import load_digits, digits_split
from nats.data.mixtures import MIXTURES, load_mixture

DATASETS = ("digits", "ring8", "grid25")


def load_training_set(name: str, settings: dict) -> TrainingSet:
    """Build the training set called ``name``.

    Args:
        name: one of ``DATASETS``.
        settings: the run's dataset settings (``resolution`` for digits,
            ``num_points`` and ``data_seed`` for the 2D mixtures).

    Returns:
        The training set, with images in [-1, 1] or 2D points.

    Raises:
        ValueError: if ``name`` is not a known dataset.
    """
    if name == "digits":
        return load_digits(resolution=settings.get("resolution", 16))
    if name in MIXTURES:
        return load_mixture(
            name,
            num_points=settings.get("num_points", 20000),
            data_seed=settings.get("data_seed", 0),
        )
    raise ValueError(
        f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}"
    )


__all__ = [
    "DATASETS",
    "MIXTURES",
    "RealBatches",
    "TrainingSet",
    "digits_split",
    "load_digits",
    "load_mixture",
    "load_training_set",
]
