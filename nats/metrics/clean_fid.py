"""The ``clean`` and ``legacy`` protocols: FID and KID computed by clean-fid 0.1.35.

clean-fid loads its Inception network (a TorchScript archive) only from the
hard-coded folder ``/tmp`` (``cleanfid.features.feature_extractor``) and
downloads it there when missing. To stay offline, ``load_cleanfid_model``
builds the same ``InceptionV3W`` wrapper with ``download=False`` from the
file in ``evaluation.inception_weights.clean_fid``, through a temporary
folder holding a link under the name clean-fid expects. Features then come
from ``cleanfid.fid.get_model_features`` (clean-fid's own resizing: PIL
bicubic to 299x299 in ``clean`` mode, the network's internal TensorFlow-style
resize in ``legacy_tensorflow`` mode), and FID and KID from
``cleanfid.fid.fid_from_feats`` and ``cleanfid.fid.kernel_distance``.

Metric names: ``cleanfid<n>_<split>`` and ``cleankid<n>`` for ``clean``,
``legacyfid<n>_<split>`` and ``legacykid<n>`` for ``legacy``.
"""

import importlib.metadata
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from cleanfid.fid import fid_from_feats, get_model_features, kernel_distance
from cleanfid.inception_torchscript import InceptionV3W

from nats.metrics.adapter import ADAPTER_POLICY, to_uint8_rgb
from nats.metrics.feature_cache import cached_features, pixels_sha256
from nats.metrics.inception import MIN_FID_SAMPLES, check_sample_counts
from nats.metrics.records import MetricValue, count_label
from nats.metrics.weights import CLEANFID_WEIGHTS, check_published_weights, resolve_weights

logger = logging.getLogger(__name__)

MODES = {"clean": "clean", "legacy": "legacy_tensorflow"}
PROTOCOL_BY_MODE = {mode: name for name, mode in MODES.items()}
CLEANFID_METRICS = ("fid", "kid")
KID_RNG_SEED = 2020
RESIZE_BY_MODE = {
    "clean": "clean-fid: PIL bicubic to 299x299 on float pixels, before the network",
    "legacy_tensorflow": "clean-fid: TensorFlow 1.x style bilinear to 299x299 inside the TorchScript network",
}


def cleanfid_version() -> str:
    """Return the installed clean-fid version (the package has no ``__version__``)."""
    return importlib.metadata.version("clean-fid")


def cleanfid_metric_names(settings: dict, mode: str) -> dict[str, str]:
    """Return the metric names of a clean-fid protocol: ``fid`` and ``kid``.

    Args:
        settings: protocol settings with ``num_generated`` and ``reference_split``.
        mode: ``clean`` or ``legacy_tensorflow``.
    """
    prefix = {"clean": "clean", "legacy_tensorflow": "legacy"}[mode]
    label = count_label(settings["num_generated"])
    return {"fid": f"{prefix}fid{label}_{settings['reference_split']}", "kid": f"{prefix}kid{label}"}


def load_cleanfid_model(weights_path: Path, mode: str, device: str = "cpu") -> InceptionV3W:
    """Load clean-fid's Inception wrapper from a local TorchScript file, without downloading.

    Args:
        weights_path: the ``inception-2015-12-05.pt`` file (any file name).
        mode: ``clean`` (resize before the network) or ``legacy_tensorflow``
            (resize inside it).
        device: ``cpu`` or ``cuda``.

    Returns:
        The wrapper in eval mode, taking float pixels in [0, 255].
    """
    if mode not in RESIZE_BY_MODE:
        raise ValueError(f"clean-fid mode must be one of {', '.join(RESIZE_BY_MODE)}, got {mode!r}")
    with tempfile.TemporaryDirectory(prefix="nats-cleanfid-") as folder:
        os.symlink(Path(weights_path).resolve(), Path(folder) / CLEANFID_WEIGHTS.file_name)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*torch.jit.*")
            model = InceptionV3W(folder, download=False, resize_inside=mode == "legacy_tensorflow")
    return model.to(torch.device(device)).eval()


def extract_cleanfid_features(
    pixels: torch.Tensor,
    model: InceptionV3W,
    mode: str,
    batch_size: int = 64,
    device: str = "cpu",
) -> np.ndarray:
    """Extract clean-fid features of uint8 RGB images through ``cleanfid.fid.get_model_features``.

    clean-fid reads images from a generator function. Here that function
    returns the given images batch by batch and pads the last batch with
    repeats, which clean-fid cuts off. The latent draws clean-fid makes are
    ignored and do not touch the caller's random state.

    Args:
        pixels: uint8 images (N, 3, H, W) from ``to_uint8_rgb``.
        model: from ``load_cleanfid_model``.
        mode: ``clean`` or ``legacy_tensorflow``.
        batch_size: images per forward pass.
        device: where the model runs.

    Returns:
        float32 features (N, 2048).
    """
    num_images = len(pixels)
    batch_size = min(batch_size, num_images)
    next_start = 0

    def serve_batch(latents: torch.Tensor) -> torch.Tensor:
        nonlocal next_start
        indices = torch.arange(next_start, next_start + batch_size) % num_images
        next_start += batch_size
        return pixels[indices].to(latents.device)

    with torch.random.fork_rng(devices=[]):
        features = get_model_features(
            serve_batch, model, mode=mode, z_dim=1, num_gen=num_images, batch_size=batch_size,
            device=torch.device(device), verbose=sys.stderr.isatty(), desc=f"clean-fid {mode} features",
        )
    return features.astype(np.float32)


def seeded_kernel_distance(generated: np.ndarray, real: np.ndarray, settings: dict) -> float:
    """Compute clean-fid's KID with its subsets drawn from a fixed seed.

    clean-fid draws the subsets from numpy's global generator. It is seeded
    with ``KID_RNG_SEED`` here and restored afterwards, so KID is repeatable
    and the caller's random state is left as it was.
    """
    saved_state = np.random.get_state()
    np.random.seed(KID_RNG_SEED)
    try:
        return float(
            kernel_distance(
                generated, real, num_subsets=settings["kid_subsets"], max_subset_size=settings["kid_subset_size"]
            )
        )
    finally:
        np.random.set_state(saved_state)


def evaluate_cleanfid(
    images: torch.Tensor,
    reference_images: torch.Tensor,
    settings: dict,
    weights_path: str | Path | None,
    *,
    mode: str,
    reference_name: str,
    reference_path: str | None = None,
    device: str = "cpu",
    cache_dir: Path | None = None,
    min_fid_samples: int = MIN_FID_SAMPLES,
    metrics: tuple[str, ...] = CLEANFID_METRICS,
) -> tuple[list[MetricValue], dict]:
    """Score generated images against a real reference with clean-fid.

    Counts and weights are checked before any feature is computed. If more
    than ``num_generated`` images are given, the first ``num_generated`` are used.

    Args:
        images: generated float images (N, C, H, W) in [-1, 1].
        reference_images: real float images (M, C, H, W) in [-1, 1], all used.
        settings: protocol settings: ``num_generated``, ``reference_split``,
            ``kid_subsets``, ``kid_subset_size``, ``batch_size``.
        weights_path: clean-fid's TorchScript Inception file.
        mode: ``clean`` or ``legacy_tensorflow``.
        reference_name: names the reference in the protocol.
        reference_path: the reference's file or folder, recorded as given;
            ``None`` for a bundled reference.
        device: ``cpu`` or ``cuda``.
        cache_dir: where real features are cached; ``None`` disables the cache.
        min_fid_samples: minimum number of images per side for FID. Only tests lower it.
        metrics: which of ``CLEANFID_METRICS`` to compute (default both);
            the protocol records the choice.

    Returns:
        The metric values (FID, KID) and the protocol, without the
        run-specific ``sample_mode`` and ``generation_seed``.

    Raises:
        SampleCountError: for too few generated or real images.
        InceptionWeightsError: if the weights file is missing.
        ImageRangeError: for images outside [-1, 1] or not finite.
    """
    if not metrics or not set(metrics) <= set(CLEANFID_METRICS):
        raise ValueError(f"metrics must be a non-empty subset of {CLEANFID_METRICS}, got {metrics!r}")
    protocol_name = PROTOCOL_BY_MODE.get(mode, mode)
    check_sample_counts(len(images), len(reference_images), settings, min_fid_samples, metrics, protocol_name)
    weights_path, weights_sha256 = resolve_weights(CLEANFID_WEIGHTS, weights_path)
    weights_published, weights_check = check_published_weights(CLEANFID_WEIGHTS, weights_path, weights_sha256)
    num_generated = settings["num_generated"]
    batch_size = settings["batch_size"]

    generated_pixels = to_uint8_rgb(images[:num_generated])
    real_pixels = to_uint8_rgb(reference_images)
    reference_sha256 = pixels_sha256(real_pixels)
    model = load_cleanfid_model(weights_path, mode, device)
    real_description = {
        "library": "clean-fid",
        "clean_fid": cleanfid_version(),
        "mode": mode,
        "weights_sha256": weights_sha256,
        "adapter": ADAPTER_POLICY,
        "reference": reference_name,
        "reference_pixels_sha256": reference_sha256,
    }
    logger.info(
        "clean-fid %s protocol: %d generated vs %d real images (%s), weights sha256 %s",
        mode, len(generated_pixels), len(real_pixels), reference_name, weights_sha256,
    )
    real_features, cache_key, _ = cached_features(
        cache_dir, real_description,
        lambda: {"pool": extract_cleanfid_features(real_pixels, model, mode, batch_size, device)},
    )
    generated_features = extract_cleanfid_features(generated_pixels, model, mode, batch_size, device)

    names = cleanfid_metric_names(settings, mode)
    values = []
    if "fid" in metrics:
        # scipy's sqrtm of the 2048 x 2048 covariance product takes about 18 s
        # on one CPU thread, whatever the number of images.
        fid = float(fid_from_feats(generated_features, real_features["pool"]))
        values.append(MetricValue(names["fid"], fid, higher_is_better=False))
    if "kid" in metrics:
        values.append(MetricValue(names["kid"], seeded_kernel_distance(generated_features, real_features["pool"], settings), higher_is_better=False))

    protocol = {
        "name": protocol_name,
        "library": "clean-fid",
        "metrics": list(metrics),
        "mode": mode,
        "feature_extractor": "clean-fid InceptionV3W (TorchScript inception-2015-12-05)",
        "weights_sha256": weights_sha256,
        "weights_published": weights_published,
        "weights_check": weights_check,
        "num_generated": num_generated,
        "num_real": len(real_pixels),
        "reference": reference_name,
        "reference_path": reference_path,
        "reference_pixels_sha256": reference_sha256,
        "reference_split": settings["reference_split"],
        "kid_subsets": settings["kid_subsets"],
        "kid_subset_size": settings["kid_subset_size"],
        "kid_rng_seed": KID_RNG_SEED,
        "resize": RESIZE_BY_MODE[mode],
        "adapter": ADAPTER_POLICY,
        "real_features_cache_key": cache_key,
        "clean_fid": cleanfid_version(),
        "torch": torch.__version__,
    }
    return values, protocol
