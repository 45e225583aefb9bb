"""On-disk cache of the real images' features, keyed by a hash of the protocol.

Every run of a grid compares its samples with the same reference. The
reference features are computed once per dataset x protocol and stored as
``<cache_dir>/<key>.pt``, where the key is the sha256 of everything that
determines them: the protocol settings that concern the real side, the
extractor and the sha256 of its weights, the adapter policy, the library
versions and the sha256 of the reference pixels. A changed setting gives a
new key, never a stale hit. Files are written to a temporary name and moved
into place with ``os.replace``, so parallel jobs never read half a file.
"""

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import torch

from nats.atomic_files import atomic_write

logger = logging.getLogger(__name__)

KEY_LENGTH = 24


def cache_key(description: dict) -> str:
    """Return the hex key of a cache entry: sha256 of the sorted JSON of ``description``, truncated."""
    text = json.dumps(description, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def pixels_sha256(pixels: torch.Tensor) -> str:
    """Return the sha256 of a uint8 image tensor's shape and bytes."""
    digest = hashlib.sha256(str(tuple(pixels.shape)).encode())
    digest.update(pixels.contiguous().numpy().tobytes())
    return digest.hexdigest()


def cached_features(
    cache_dir: Path | None,
    description: dict,
    compute: Callable[[], dict],
) -> tuple[dict, str, bool]:
    """Return the features of ``description``, from the cache or computed and stored.

    Args:
        cache_dir: folder of the cache; ``None`` computes without caching.
        description: everything the features depend on (see module docstring).
        compute: returns the features as a dict of tensors or arrays.

    Returns:
        The features, the cache key and whether they came from the cache.
    """
    key = cache_key(description)
    if cache_dir is None:
        return compute(), key, False

    path = Path(cache_dir) / f"{key}.pt"
    if path.is_file():
        stored = torch.load(path, map_location="cpu", weights_only=False)
        if stored.get("description") == json.loads(json.dumps(description, sort_keys=True, default=str)):
            logger.info("real features read from cache %s", path)
            return stored["features"], key, True
        logger.warning("cache file %s does not match its key's description; recomputing", path)

    features = compute()
    payload = {"description": json.loads(json.dumps(description, sort_keys=True, default=str)), "features": features}
    atomic_write(path, lambda handle: torch.save(payload, handle))
    logger.info("real features written to cache %s", path)
    return features, key, False
