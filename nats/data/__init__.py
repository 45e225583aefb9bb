"""Training sets, looked up by name through one registry."""

from nats.data.base import TrainingSet, RealBatches
from nats.data.digits import load_digits, digits_split
from nats.data.mixtures import MIXTURES, load_mixture
from nats.data.images import (
    IMAGE_SOURCE_DEFAULTS,
    IMAGE_SOURCES,
    DatasetNotFoundError,
    ImageTrainingSet,
    check_image_dataset,
    describe_preprocessing,
    load_image_training_set,
    load_reference_images,
)

DATASETS = ("digits", "ring8", "grid25")


def load_training_set(name: str, settings: dict) -> TrainingSet | ImageTrainingSet:
    """Build the training set called ``name``.

    Args:
        name: one of ``DATASETS``, or the grid name of an image dataset whose
            ``settings["source"]`` (or the name itself) is one of ``IMAGE_SOURCES``.
        settings: the run's dataset settings (``resolution`` for digits,
            ``num_points`` and ``data_seed`` for the 2D mixtures, the keys of
            ``nats.data.images.resolve_image_settings`` for image sources).

    Returns:
        The training set, with images in [-1, 1] or 2D points.

    Raises:
        ValueError: if ``name`` is not a known dataset.
        DatasetNotFoundError: if an image source's files are missing.
    """
    if (settings.get("source") or name) in IMAGE_SOURCES:
        return load_image_training_set(name, settings)
    if name == "digits":
        return load_digits(resolution=settings.get("resolution", 16))
    if name in MIXTURES:
        return load_mixture(
            name,
            num_points=settings.get("num_points", 20000),
            data_seed=settings.get("data_seed", 0),
        )
    raise ValueError(
        f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}, "
        f"or an image dataset with source one of {', '.join(IMAGE_SOURCES)}"
    )


__all__ = [
    "DATASETS",
    "IMAGE_SOURCES",
    "IMAGE_SOURCE_DEFAULTS",
    "MIXTURES",
    "DatasetNotFoundError",
    "ImageTrainingSet",
    "RealBatches",
    "TrainingSet",
    "check_image_dataset",
    "describe_preprocessing",
    "digits_split",
    "load_digits",
    "load_image_training_set",
    "load_mixture",
    "load_reference_images",
    "load_training_set",
]
