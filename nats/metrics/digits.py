"""The digits protocol: Frechet distance, classifier score and precision/recall.

All three come from one ``torch_fidelity.calculate_metrics`` call with the
digits classifier as feature extractor (see ``digits_classifier``). The
generated images are input1 and the real reference, all 1,797 digits at the
classifier's resolution, is input2; both pass through the image adapter.

- ``fd<n>_digits``: Frechet distance between the classifier features of the
  generated and the real images (torch-fidelity's FID code, other features).
- ``cs<n>_s<splits>``: the Inception Score formula on the classifier's
  logits, mean over ``is_splits`` splits, with the std over splits stored in
  the record's ``std``. Its maximum is the number of classes, 10.
- ``precision<n>_k<k>`` and ``recall<n>_k<k>``: improved precision and recall
  (Kynkaanniemi et al. 2019) with k-nearest-neighbour balls, k =
  ``prc_neighborhood``.

``<n>`` is the number of generated images, written by ``count_label``.
"""

import json
import logging
from pathlib import Path

import torch
import torch_fidelity

from nats.data import load_digits
from nats.metrics.adapter import ADAPTER_POLICY, to_fidelity_dataset
from nats.metrics.digits_classifier import (
    FEATURE_EXTRACTOR_NAME,
    ClassifierError,
    DigitsClassifier,
    DigitsFeatureExtractor,
    file_sha256,
    load_classifier,
)
from nats.metrics.records import MetricValue, SampleCountError, count_label

logger = logging.getLogger(__name__)

# Seed torch-fidelity uses to shuffle the generated images before the score
# splits (the default of torch-fidelity 0.4.0). The protocol records it
# because the splits depend on it.
SPLIT_SHUFFLE_SEED = 2020
FIDELITY_BATCH_SIZE = 500


def minimum_generated(feature_dim: int, is_splits: int, prc_neighborhood: int) -> int:
    """Return the fewest generated images the digits protocol accepts.

    The feature covariance of the Frechet distance can have full rank only
    with more than ``feature_dim`` images, every score split needs at least two
    images, and precision/recall needs more than ``prc_neighborhood`` images.
    """
    return max(feature_dim + 1, 2 * is_splits, prc_neighborhood + 1)


def digits_metric_names(num_generated: int, is_splits: int, prc_neighborhood: int) -> dict[str, str]:
    """Return the metric names of the digits protocol, by kind (fd, cs, precision, recall)."""
    label = count_label(num_generated)
    return {
        "fd": f"fd{label}_digits",
        "cs": f"cs{label}_s{is_splits}",
        "precision": f"precision{label}_k{prc_neighborhood}",
        "recall": f"recall{label}_k{prc_neighborhood}",
    }


def _positive_int(settings: dict, key: str) -> int:
    if key not in settings:
        raise ValueError(f"digits evaluation settings are missing {key!r}; got keys {sorted(settings)}")
    value = settings[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"evaluation.digits.{key} must be a positive integer, got {value!r}")
    return value


def _fidelity_options(weights_path: Path, device: str) -> dict:
    return {
        "feature_extractor": FEATURE_EXTRACTOR_NAME,
        "feature_extractor_weights_path": str(weights_path),
        "cuda": torch.device(device).type == "cuda",
        "batch_size": FIDELITY_BATCH_SIZE,
        "cache": False,
        "save_cpu_ram": True,
        "verbose": False,
        "rng_seed": SPLIT_SHUFFLE_SEED,
    }


def _check_weights_pin(weights_path: Path, weights_sha256: str) -> None:
    summary_path = weights_path.with_suffix(".json")
    if not summary_path.is_file():
        return
    recorded = json.loads(summary_path.read_text()).get("weights_sha256")
    if recorded is not None and recorded != weights_sha256:
        raise ClassifierError(
            f"classifier weights {str(weights_path)!r} have sha256 {weights_sha256}, but "
            f"{str(summary_path)!r} records {recorded}; rebuild the classifier"
        )


def _check_images(images: torch.Tensor, resolution: int) -> None:
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(
            f"expected generated images as a tensor (N, 1, H, W), got "
            f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}"
        )
    if tuple(images.shape[2:]) != (resolution, resolution):
        raise ValueError(
            f"generated images are {tuple(images.shape[2:])} but the classifier works at "
            f"{resolution}x{resolution}; use a classifier built at the run's resolution"
        )


def check_digits_protocol(settings: dict, weights_path: Path, num_images: int | None = None) -> DigitsClassifier:
    """Check the digits settings, the classifier and the number of images before computing.

    Args:
        settings: the ``evaluation`` block of a run config, with
            ``num_generated``, ``is_splits`` and ``prc_neighborhood``.
        weights_path: classifier weights written by ``build_classifier``.
        num_images: number of generated images at hand, if known.

    Returns:
        The loaded classifier.

    Raises:
        SampleCountError: if ``num_generated`` is below ``minimum_generated``
            or fewer than ``num_generated`` images are at hand.
        ClassifierError: if the weights file is missing or invalid.
        ValueError: for invalid settings.
    """
    num_generated = _positive_int(settings, "num_generated")
    is_splits = _positive_int(settings, "is_splits")
    prc_neighborhood = _positive_int(settings, "prc_neighborhood")

    classifier = load_classifier(Path(weights_path))
    minimum = minimum_generated(classifier.feature_dim, is_splits, prc_neighborhood)
    if num_generated < minimum:
        raise SampleCountError(
            f"evaluation.digits.num_generated is {num_generated}, below the minimum of {minimum} "
            f"(feature dim {classifier.feature_dim} + 1, 2 x {is_splits} score splits, "
            f"prc_neighborhood {prc_neighborhood} + 1); raise num_generated"
        )
    if num_images is not None and num_images < num_generated:
        raise SampleCountError(
            f"got {num_images} generated images but the protocol needs num_generated = {num_generated}; "
            "draw more samples"
        )
    return classifier


def evaluate_digits(
    images: torch.Tensor,
    weights_path: Path,
    settings: dict,
    device: str = "cpu",
) -> tuple[list[MetricValue], dict]:
    """Score generated digits against all real digits.

    The sample count is checked before anything is computed. If more than
    ``num_generated`` images are given, the first ``num_generated`` are used.

    Args:
        images: generated float images (N, 1, H, W) in [-1, 1].
        weights_path: classifier weights written by ``build_classifier``.
        settings: the ``evaluation`` block of a run config, with
            ``num_generated``, ``is_splits`` and ``prc_neighborhood``.
        device: where the classifier runs (``cpu`` or ``cuda``).

    Returns:
        The metric values (Frechet distance, classifier score, precision,
        recall) and the protocol they were measured under, without the
        run-specific ``sample_mode`` and ``generation_seed``.

    Raises:
        SampleCountError: if fewer than ``num_generated`` images are given or
            ``num_generated`` is below ``minimum_generated``.
        ClassifierError: for missing or mismatched classifier weights.
        ImageRangeError: for images outside [-1, 1] or not finite.
    """
    weights_path = Path(weights_path)
    classifier = check_digits_protocol(settings, weights_path, num_images=len(images))
    _check_images(images, classifier.resolution)
    num_generated = settings["num_generated"]
    is_splits = settings["is_splits"]
    prc_neighborhood = settings["prc_neighborhood"]

    weights_sha256 = file_sha256(weights_path)
    _check_weights_pin(weights_path, weights_sha256)

    generated = to_fidelity_dataset(images[:num_generated])
    real = to_fidelity_dataset(load_digits(classifier.resolution).samples)
    logger.info(
        "digits protocol: %d generated vs %d real images at %dpx", len(generated), len(real), classifier.resolution
    )
    scores = torch_fidelity.calculate_metrics(
        input1=generated,
        input2=real,
        isc=True,
        fid=True,
        prc=True,
        isc_splits=is_splits,
        prc_neighborhood=prc_neighborhood,
        **_fidelity_options(weights_path, device),
    )

    names = digits_metric_names(num_generated, is_splits, prc_neighborhood)
    values = [
        MetricValue(names["fd"], scores[torch_fidelity.KEY_METRIC_FID], higher_is_better=False),
        MetricValue(
            names["cs"],
            scores[torch_fidelity.KEY_METRIC_ISC_MEAN],
            higher_is_better=True,
            std=scores[torch_fidelity.KEY_METRIC_ISC_STD],
        ),
        MetricValue(names["precision"], scores[torch_fidelity.KEY_METRIC_PRECISION], higher_is_better=True),
        MetricValue(names["recall"], scores[torch_fidelity.KEY_METRIC_RECALL], higher_is_better=True),
    ]

    protocol = {
        "name": "digits",
        "feature_extractor": FEATURE_EXTRACTOR_NAME,
        "feature_layers": {
            "fd": DigitsFeatureExtractor.get_default_feature_layer_for_metric("fid"),
            "cs": DigitsFeatureExtractor.get_default_feature_layer_for_metric("isc"),
            "prc": DigitsFeatureExtractor.get_default_feature_layer_for_metric("prc"),
        },
        "feature_dim": classifier.feature_dim,
        "weights_sha256": weights_sha256,
        "num_generated": num_generated,
        "num_real": len(real),
        "reference": f"digits-all-{classifier.resolution}px",
        "resolution": classifier.resolution,
        "is_splits": is_splits,
        "split_shuffle_seed": SPLIT_SHUFFLE_SEED,
        "prc_neighborhood": prc_neighborhood,
        "adapter": ADAPTER_POLICY,
        "torch_fidelity": torch_fidelity.__version__,
        "torch": torch.__version__,
    }
    return values, protocol


def frechet_distance(
    images_1: torch.Tensor,
    images_2: torch.Tensor,
    weights_path: Path,
    device: str = "cpu",
) -> float:
    """Compute the Frechet distance between two image sets in classifier features.

    Both sets pass through the image adapter and torch-fidelity's FID code,
    the same path as ``evaluate_digits``, so tests can check that path on
    known values (a set against itself gives 0).

    Args:
        images_1: float images (N, 1, H, W) in [-1, 1].
        images_2: float images (M, 1, H, W) in [-1, 1].
        weights_path: classifier weights written by ``build_classifier``.
        device: where the classifier runs.

    Returns:
        The Frechet distance.
    """
    classifier = load_classifier(Path(weights_path))
    for images in (images_1, images_2):
        _check_images(images, classifier.resolution)
        if len(images) <= classifier.feature_dim:
            raise SampleCountError(
                f"got {len(images)} images, but the Frechet distance needs more than the feature dim "
                f"{classifier.feature_dim}"
            )
    scores = torch_fidelity.calculate_metrics(
        input1=to_fidelity_dataset(images_1),
        input2=to_fidelity_dataset(images_2),
        fid=True,
        **_fidelity_options(Path(weights_path), device),
    )
    return scores[torch_fidelity.KEY_METRIC_FID]
