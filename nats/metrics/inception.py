"""The ``inception`` protocol: torch-fidelity's ``inception-v3-compat`` features.

IS, FID, KID and precision/recall are computed by torch-fidelity 0.4.0 from
the features of its Inception-v3 port (2048-dimensional pool features for
FID, KID and precision/recall, the 1008 unbiased logits for IS), the way
``torch_fidelity.calculate_metrics`` computes them. The features are
extracted once per image set, so that every metric, density and coverage and
the real-features cache share them. Images enter through the image adapter.

Metric names encode the counts: ``fid<n>_<split>``, ``is<n>_s<splits>``,
``kid<n>``, ``precision<n>_k<k>``, ``recall<n>_k<k>``, ``density<n>_k<k>``,
``coverage<n>_k<k>``, with ``<n>`` the number of generated images written by
``count_label`` (50000 -> ``50k``).
"""

import logging
import sys
from pathlib import Path

import torch
import torch_fidelity
from torch_fidelity.metric_fid import fid_featuresdict_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_featuresdict_to_metric
from torch_fidelity.metric_kid import kid_featuresdict_to_metric
from torch_fidelity.metric_prc import prc_featuresdict_to_metric
from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

from nats.metrics.adapter import ADAPTER_POLICY, UInt8ImageDataset, to_uint8_rgb
from nats.metrics.feature_cache import cached_features, pixels_sha256
from nats.metrics.records import MetricValue, SampleCountError, count_label
from nats.metrics.weights import TORCH_FIDELITY_WEIGHTS, check_published_weights, resolve_weights

logger = logging.getLogger(__name__)

FEATURE_EXTRACTOR = "inception-v3-compat"
POOL_FEATURES = "2048"
LOGITS = "logits_unbiased"

# The covariance of 2048-dimensional features needs at least as many images
# to have full rank; below that FID is dominated by the rank deficit. This is
# the production minimum; tests lower it only through ``min_fid_samples``.
MIN_FID_SAMPLES = 2048

INCEPTION_METRICS = ("fid", "is", "kid", "prc")

# Seed of the IS split shuffle and the KID subsets (torch-fidelity 0.4.0's default).
RNG_SEED = 2020


def inception_metric_names(settings: dict, metrics: tuple[str, ...] = INCEPTION_METRICS) -> dict[str, str]:
    """Return the metric names of the inception protocol, by kind.

    Args:
        settings: the protocol settings (``num_generated``,
            ``reference_split``, ``is_splits``, ``prc_neighborhood``).
        metrics: the metrics computed, a subset of ``INCEPTION_METRICS``;
            ``prc`` gives precision and recall (and density and coverage
            when ``settings["density_coverage"]`` is true).
    """
    label = count_label(settings["num_generated"])
    k = settings["prc_neighborhood"]
    names = {
        "fid": f"fid{label}_{settings['reference_split']}",
        "is": f"is{label}_s{settings['is_splits']}",
        "kid": f"kid{label}",
        "precision": f"precision{label}_k{k}",
        "recall": f"recall{label}_k{k}",
    }
    if settings.get("density_coverage", False):
        names["density"] = f"density{label}_k{k}"
        names["coverage"] = f"coverage{label}_k{k}"
    kinds = {"fid": ["fid"], "is": ["is"], "kid": ["kid"], "prc": ["precision", "recall", "density", "coverage"]}
    selected = {kind for metric in metrics for kind in kinds[metric]}
    return {kind: name for kind, name in names.items() if kind in selected}


def check_sample_counts(
    num_images: int,
    num_real: int,
    settings: dict,
    min_fid_samples: int = MIN_FID_SAMPLES,
    metrics: tuple[str, ...] = ("fid", "is", "kid", "prc"),
    protocol_name: str = "inception",
) -> None:
    """Reject too few images for a metric, before anything is computed.

    Args:
        num_images: generated images at hand.
        num_real: real reference images.
        settings: protocol settings with ``num_generated`` and, for the
            metrics named in ``metrics``, ``is_splits``, ``kid_subset_size``
            and ``prc_neighborhood``.
        min_fid_samples: minimum number of images per side for FID.
        metrics: which metrics the protocol computes.
        protocol_name: names the config block (``evaluation.<protocol_name>``)
            in the messages.

    Raises:
        SampleCountError: naming the count, the metric, the minimum and the
            settings that fix it.
    """
    block = f"evaluation.{protocol_name}"
    num_generated = settings["num_generated"]
    if num_images < num_generated:
        raise SampleCountError(
            f"got {num_images} generated images but {block}.num_generated is {num_generated}; "
            f"draw more samples or lower {block}.num_generated (the metric names then show the smaller count)"
        )

    # (entry of the metrics list, description, generated minimum, real
    # minimum, setting that lowers the minimums)
    minimums = []
    if "fid" in metrics:
        minimums.append(("fid", "FID", min_fid_samples, min_fid_samples, None))
    if "is" in metrics:
        splits = settings["is_splits"]
        minimums.append(("is", f"IS with {splits} splits", splits, 0, "is_splits"))
    if "kid" in metrics:
        kid_size = settings["kid_subset_size"]
        minimums.append(("kid", f"KID with subsets of {kid_size}", kid_size, kid_size, "kid_subset_size"))
    if "prc" in metrics:
        k = settings["prc_neighborhood"]
        minimums.append(("prc", f"precision/recall with k = {k}", k + 1, k + 1, "prc_neighborhood"))

    for entry, metric, generated_minimum, real_minimum, setting in minimums:
        other_fixes = ([f"lower {block}.{setting}"] if setting else []) + [f"drop {entry!r} from {block}.metrics"]
        if num_generated < generated_minimum:
            fixes = [
                f"raise {block}.num_generated to at least {generated_minimum} (and supply that many images)",
                *other_fixes,
            ]
            raise SampleCountError(
                f"{metric} needs at least {generated_minimum} generated images, but num_generated is {num_generated}; "
                f"{', '.join(fixes[:-1])} or {fixes[-1]}"
            )
        if num_real < real_minimum:
            fixes = [
                f"set {block}.reference to a .npz file or image folder with at least {real_minimum} images",
                *other_fixes,
            ]
            raise SampleCountError(
                f"{metric} needs at least {real_minimum} real images, but the reference has {num_real}; "
                f"{', '.join(fixes[:-1])} or {fixes[-1]}"
            )


def extract_inception_features(
    pixels: torch.Tensor,
    weights_path: Path,
    device: str = "cpu",
    batch_size: int = 64,
) -> dict[str, torch.Tensor]:
    """Extract torch-fidelity's Inception features of uint8 RGB images.

    Args:
        pixels: uint8 images (N, 3, H, W) from ``to_uint8_rgb``.
        weights_path: the ``inception-v3-compat`` weights file.
        device: ``cpu`` or ``cuda``.
        batch_size: images per forward pass.

    Returns:
        ``{"2048": (N, 2048), "logits_unbiased": (N, 1008)}`` float32 tensors on the CPU.
    """
    cuda = torch.device(device).type == "cuda"
    extractor = create_feature_extractor(
        FEATURE_EXTRACTOR,
        [POOL_FEATURES, LOGITS],
        cuda=cuda,
        feature_extractor_weights_path=str(weights_path),
        verbose=False,
    )
    # torch-fidelity's verbose mode draws a tqdm bar, shown on terminals only
    # so that job logs do not fill with its updates.
    return get_featuresdict_from_dataset(
        UInt8ImageDataset(pixels), extractor, batch_size, cuda, save_cpu_ram=True, verbose=sys.stderr.isatty()
    )


def metrics_from_features(
    generated: dict, real: dict, settings: dict, metrics: tuple[str, ...] = INCEPTION_METRICS
) -> dict[str, float]:
    """Compute IS, FID, KID and precision/recall with torch-fidelity from feature dicts.

    Args:
        generated: features of the generated images.
        real: features of the real images.
        settings: protocol settings (``is_splits``, ``kid_subsets``,
            ``kid_subset_size``, ``prc_neighborhood``).
        metrics: which of ``INCEPTION_METRICS`` to compute.

    Returns:
        torch-fidelity's result keys (``KEY_METRIC_FID`` and so on) and values.
    """
    options = {
        "isc_splits": settings["is_splits"],
        "kid_subsets": settings["kid_subsets"],
        "kid_subset_size": settings["kid_subset_size"],
        "prc_neighborhood": settings["prc_neighborhood"],
        "samples_shuffle": True,
        "rng_seed": RNG_SEED,
        "save_cpu_ram": True,
        "verbose": False,
    }
    scores = {}
    if "is" in metrics:
        scores.update(isc_featuresdict_to_metric(generated, LOGITS, **options))
    if "fid" in metrics:
        scores.update(
            fid_statistics_to_metric(
                fid_featuresdict_to_statistics(generated, POOL_FEATURES),
                fid_featuresdict_to_statistics(real, POOL_FEATURES),
                verbose=False,
            )
        )
    if "kid" in metrics:
        scores.update(kid_featuresdict_to_metric(generated, real, POOL_FEATURES, **options))
    if "prc" in metrics:
        scores.update(prc_featuresdict_to_metric(generated, real, POOL_FEATURES, **options))
    return scores


def evaluate_inception(
    images: torch.Tensor,
    reference_images: torch.Tensor,
    settings: dict,
    weights_path: str | Path | None,
    *,
    reference_name: str,
    reference_path: str | None = None,
    device: str = "cpu",
    cache_dir: Path | None = None,
    min_fid_samples: int = MIN_FID_SAMPLES,
    metrics: tuple[str, ...] = INCEPTION_METRICS,
) -> tuple[list[MetricValue], dict]:
    """Score generated images against a real reference under the inception protocol.

    Counts and weights are checked before any feature is computed. If more
    than ``num_generated`` images are given, the first ``num_generated`` are used.

    Args:
        images: generated float images (N, C, H, W) in [-1, 1].
        reference_images: real float images (M, C, H, W) in [-1, 1], all used.
        settings: protocol settings: ``num_generated``, ``reference_split``,
            ``is_splits``, ``kid_subsets``, ``kid_subset_size``,
            ``prc_neighborhood``, ``batch_size`` and optionally
            ``density_coverage``.
        weights_path: torch-fidelity's Inception weights file; ``None`` looks
            in the torch.hub cache.
        reference_name: names the reference in the protocol.
        reference_path: the reference's file or folder, recorded as given;
            ``None`` for a bundled reference.
        device: ``cpu`` or ``cuda``.
        cache_dir: where real features are cached; ``None`` disables the cache.
        min_fid_samples: minimum number of images per side for FID. Only tests lower it.
        metrics: which of ``INCEPTION_METRICS`` to compute (default all);
            the protocol records the choice.

    Returns:
        The metric values and the protocol, without the run-specific
        ``sample_mode`` and ``generation_seed``.

    Raises:
        SampleCountError: for too few generated or real images.
        InceptionWeightsError: if the weights file is missing.
        ImageRangeError: for images outside [-1, 1] or not finite.
    """
    unknown = sorted(set(metrics) - set(INCEPTION_METRICS))
    if unknown or not metrics:
        raise ValueError(f"metrics must be a non-empty subset of {INCEPTION_METRICS}, got {metrics!r}")
    check_sample_counts(len(images), len(reference_images), settings, min_fid_samples, metrics, "inception")
    weights_path, weights_sha256 = resolve_weights(TORCH_FIDELITY_WEIGHTS, weights_path)
    weights_published, weights_check = check_published_weights(TORCH_FIDELITY_WEIGHTS, weights_path, weights_sha256)
    num_generated = settings["num_generated"]
    batch_size = settings["batch_size"]

    generated_pixels = to_uint8_rgb(images[:num_generated])
    real_pixels = to_uint8_rgb(reference_images)
    reference_sha256 = pixels_sha256(real_pixels)
    real_description = {
        "library": "torch-fidelity",
        "torch_fidelity": torch_fidelity.__version__,
        "feature_extractor": FEATURE_EXTRACTOR,
        "weights_sha256": weights_sha256,
        "features": [POOL_FEATURES, LOGITS],
        "adapter": ADAPTER_POLICY,
        "reference": reference_name,
        "reference_pixels_sha256": reference_sha256,
    }
    logger.info(
        "inception protocol: %d generated vs %d real images (%s), weights sha256 %s",
        len(generated_pixels), len(real_pixels), reference_name, weights_sha256,
    )
    real_features, cache_key, cache_hit = cached_features(
        cache_dir, real_description, lambda: extract_inception_features(real_pixels, weights_path, device, batch_size)
    )
    generated_features = extract_inception_features(generated_pixels, weights_path, device, batch_size)
    scores = metrics_from_features(generated_features, real_features, settings, metrics)

    names = inception_metric_names(settings, metrics)
    values = []
    if "fid" in metrics:
        values.append(MetricValue(names["fid"], scores[torch_fidelity.KEY_METRIC_FID], higher_is_better=False))
    if "is" in metrics:
        values.append(
            MetricValue(
                names["is"], scores[torch_fidelity.KEY_METRIC_ISC_MEAN], higher_is_better=True,
                std=scores[torch_fidelity.KEY_METRIC_ISC_STD],
            )
        )
    if "kid" in metrics:
        values.append(
            MetricValue(
                names["kid"], scores[torch_fidelity.KEY_METRIC_KID_MEAN], higher_is_better=False,
                std=scores[torch_fidelity.KEY_METRIC_KID_STD],
            )
        )
    if "prc" in metrics:
        values.append(MetricValue(names["precision"], scores[torch_fidelity.KEY_METRIC_PRECISION], higher_is_better=True))
        values.append(MetricValue(names["recall"], scores[torch_fidelity.KEY_METRIC_RECALL], higher_is_better=True))
    if "prc" in metrics and settings.get("density_coverage", False):
        from nats.metrics.prdc import density_coverage

        result = density_coverage(
            real_features[POOL_FEATURES], generated_features[POOL_FEATURES], settings["prc_neighborhood"]
        )
        values.append(MetricValue(names["density"], result["density"], higher_is_better=True))
        values.append(MetricValue(names["coverage"], result["coverage"], higher_is_better=True))
        density_coverage_implementation = result["implementation"]
    else:
        density_coverage_implementation = None

    protocol = {
        "name": "inception",
        "library": "torch-fidelity",
        "metrics": list(metrics),
        "feature_extractor": FEATURE_EXTRACTOR,
        "weights_sha256": weights_sha256,
        "weights_published": weights_published,
        "weights_check": weights_check,
        "num_generated": num_generated,
        "num_real": len(real_pixels),
        "reference": reference_name,
        "reference_path": reference_path,
        "reference_pixels_sha256": reference_sha256,
        "reference_split": settings["reference_split"],
        "is_splits": settings["is_splits"],
        "kid_subsets": settings["kid_subsets"],
        "kid_subset_size": settings["kid_subset_size"],
        "prc_neighborhood": settings["prc_neighborhood"],
        "density_coverage": density_coverage_implementation,
        "rng_seed": RNG_SEED,
        "resize": "torch-fidelity: bilinear to 299x299, TensorFlow 1.x compatible, inside the extractor",
        "adapter": ADAPTER_POLICY,
        "real_features_cache_key": cache_key,
        "torch_fidelity": torch_fidelity.__version__,
        "torch": torch.__version__,
    }
    return values, protocol
