"""Settings of the paper-scale image protocols, resolved from a pipeline config.

Three protocols score image runs on top of the domain protocol (digits):

- ``inception``: torch-fidelity's ``inception-v3-compat`` (IS, FID, KID,
  precision/recall, density/coverage);
- ``clean``: clean-fid in ``clean`` mode (FID and KID);
- ``legacy``: clean-fid in ``legacy_tensorflow`` mode (FID and KID).

They are opt-in: ``evaluation.images.protocols`` lists the ones a config
runs, and the default list is empty, so the default config needs no
Inception weights. ``resolve_image_protocols`` merges the defaults of
``nats.defaults.EVALUATION_DEFAULTS`` with the config and checks them.
"""

import copy

from nats.defaults import EVALUATION_DEFAULTS

IMAGE_PROTOCOLS = ("inception", "clean", "legacy")
IMAGE_DATASETS = ("digits",)
CHECKPOINT_CHOICES = ("final", "all")
POSITIVE_INTEGER_KEYS = ("num_generated", "is_splits", "kid_subsets", "kid_subset_size", "prc_neighborhood", "batch_size")


class ProtocolSettingsError(ValueError):
    """An image protocol setting that is unknown or out of range."""


def _merged_block(evaluation_config: dict, name: str) -> dict:
    block = evaluation_config.get(name) or {}
    if not isinstance(block, dict):
        raise ProtocolSettingsError(f"evaluation.{name} must be a mapping, got {block!r}")
    unknown = sorted(set(block) - set(EVALUATION_DEFAULTS[name]))
    if unknown:
        raise ProtocolSettingsError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in evaluation.{name}; "
            f"allowed keys: {', '.join(sorted(EVALUATION_DEFAULTS[name]))}"
        )
    return {**copy.deepcopy(EVALUATION_DEFAULTS[name]), **block}


def _check_protocol_settings(name: str, settings: dict) -> None:
    for key in POSITIVE_INTEGER_KEYS:
        if key in settings and (isinstance(settings[key], bool) or not isinstance(settings[key], int) or settings[key] < 1):
            raise ProtocolSettingsError(f"evaluation.{name}.{key} must be a positive integer, got {settings[key]!r}")
    if settings["reference"] is not None and not isinstance(settings["reference"], str):
        raise ProtocolSettingsError(
            f"evaluation.{name}.reference must be null, 'digits' or the path of a .npz file or image folder, "
            f"got {settings['reference']!r}"
        )
    allowed_metrics = ("fid", "is", "kid", "prc") if name == "inception" else ("fid", "kid")
    metrics = settings["metrics"]
    if not isinstance(metrics, list) or not metrics or not set(metrics) <= set(allowed_metrics):
        raise ProtocolSettingsError(
            f"evaluation.{name}.metrics must be a non-empty list of {', '.join(allowed_metrics)}, got {metrics!r}"
        )
    if not isinstance(settings["reference_split"], str) or not settings["reference_split"].isidentifier():
        raise ProtocolSettingsError(
            f"evaluation.{name}.reference_split must be a short name such as 'train', got {settings['reference_split']!r}"
        )


def resolve_image_protocols(evaluation_config: dict, dataset: str) -> dict | None:
    """Resolve the image protocols a run of ``dataset`` is scored with.

    The settings are checked for every dataset, so that a typo fails even in
    a grid without image data.

    Args:
        evaluation_config: the ``evaluation`` block of a pipeline config.
        dataset: the run's dataset.

    Returns:
        ``None`` when no image protocol is selected or ``dataset`` is not an
        image dataset. Otherwise ``{"protocols": {name: settings},
        "checkpoints", "cross_check_tolerance", "cache_dir",
        "inception_weights"}``, with each protocol's ``reference`` filled in
        (``digits`` for the digits dataset) and its ``reference_split``
        (``all`` for the bundled digits, which have no split).

    Raises:
        ProtocolSettingsError: for unknown names or keys and values out of range.
    """
    images = _merged_block(evaluation_config, "images")
    weights = _merged_block(evaluation_config, "inception_weights")
    selected = images["protocols"]
    if not isinstance(selected, list) or not all(name in IMAGE_PROTOCOLS for name in selected):
        raise ProtocolSettingsError(
            f"evaluation.images.protocols must be a list of {', '.join(IMAGE_PROTOCOLS)}, got {selected!r}"
        )
    if images["checkpoints"] not in CHECKPOINT_CHOICES:
        raise ProtocolSettingsError(
            f"evaluation.images.checkpoints must be one of {', '.join(CHECKPOINT_CHOICES)}, got {images['checkpoints']!r}"
        )
    tolerance = images["cross_check_tolerance"]
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance <= 0:
        raise ProtocolSettingsError(f"evaluation.images.cross_check_tolerance must be a positive number, got {tolerance!r}")

    protocols = {}
    for name in IMAGE_PROTOCOLS:
        settings = _merged_block(evaluation_config, name)
        _check_protocol_settings(name, settings)
        protocols[name] = settings

    if not selected or dataset not in IMAGE_DATASETS:
        return None
    for name in selected:
        if protocols[name]["reference"] is None:
            protocols[name]["reference"] = dataset
            protocols[name]["reference_split"] = "all"
    return {
        "protocols": {name: protocols[name] for name in selected},
        "checkpoints": images["checkpoints"],
        "cross_check_tolerance": float(tolerance),
        "cache_dir": images["cache_dir"],
        "inception_weights": weights,
    }
