"""Settings of the paper-scale image protocols, resolved from a pipeline config.

Three protocols score image runs on top of the domain protocol (digits):

- ``inception``: torch-fidelity's ``inception-v3-compat`` (IS, FID, KID,
  precision/recall, density/coverage);
- ``clean``: clean-fid in ``clean`` mode (FID and KID);
- ``legacy``: clean-fid in ``legacy_tensorflow`` mode (FID and KID).

They are opt-in: ``evaluation.images.protocols`` lists the ones a config
runs, and the default list is empty, so the default config needs no
Inception weights. ``resolve_image_protocols`` (runs of the grid) and
``resolve_image_set_protocols`` (image sets from disk) merge the defaults of
``nats.defaults.EVALUATION_DEFAULTS`` with the config and check them.
"""

import copy
import difflib

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


def check_selected_protocols(selected, where: str = "evaluation.images.protocols") -> None:
    """Check a list of image protocol names, singling out the first bad entry.

    Args:
        selected: the list to check.
        where: names the list in messages.

    Raises:
        ProtocolSettingsError: for a value that is not a list, an unknown name
            (with the closest known name, if any) or a name listed twice.
    """
    if not isinstance(selected, list):
        raise ProtocolSettingsError(
            f"{where} must be a list of protocol names ({', '.join(IMAGE_PROTOCOLS)}), got {selected!r}"
        )
    for index, name in enumerate(selected):
        if name not in IMAGE_PROTOCOLS:
            close_matches = difflib.get_close_matches(str(name), IMAGE_PROTOCOLS, n=1)
            suggestion = f"; did you mean {close_matches[0]!r}?" if close_matches else ""
            raise ProtocolSettingsError(
                f"{where}[{index}] is {name!r}, which is not an image protocol; "
                f"expected one of {', '.join(IMAGE_PROTOCOLS)}{suggestion}"
            )
    repeated = sorted({name for name in selected if selected.count(name) > 1})
    if repeated:
        raise ProtocolSettingsError(f"{where} lists {', '.join(map(repr, repeated))} more than once; list each protocol once")


def _resolve_blocks(evaluation_config: dict) -> tuple[dict, dict, dict]:
    """Merge and check the images, inception_weights and per-protocol blocks."""
    images = _merged_block(evaluation_config, "images")
    weights = _merged_block(evaluation_config, "inception_weights")
    check_selected_protocols(images["protocols"])
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
    return images, weights, protocols


def _resolved(images: dict, weights: dict, protocols: dict, selected: list[str]) -> dict:
    return {
        "protocols": {name: protocols[name] for name in selected},
        "checkpoints": images["checkpoints"],
        "cross_check_tolerance": float(images["cross_check_tolerance"]),
        "cache_dir": images["cache_dir"],
        "inception_weights": weights,
    }


def resolve_image_protocols(evaluation_config: dict, dataset: str, image_dataset: bool = False) -> dict | None:
    """Resolve the image protocols a run of ``dataset`` is scored with.

    The settings are checked for every dataset, so that a typo fails even in
    a grid without image data.

    Args:
        evaluation_config: the ``evaluation`` block of a pipeline config.
        dataset: the run's dataset.
        image_dataset: whether ``dataset`` is read from image files (CIFAR-10,
            an image folder, ...). Its protocols then compare against its own
            training split, unless ``reference`` names another image set.

    Returns:
        ``None`` when no image protocol is selected or ``dataset`` is not an
        image dataset. Otherwise ``{"protocols": {name: settings},
        "checkpoints", "cross_check_tolerance", "cache_dir",
        "inception_weights"}``, with each protocol's ``reference`` filled in
        (``digits`` for the digits dataset, which has no split, so its
        ``reference_split`` is ``all``). For image datasets a ``reference``
        of ``None`` stays ``None``: the run's own dataset, split
        ``reference_split``.

    Raises:
        ProtocolSettingsError: for unknown names or keys and values out of range.
    """
    images, weights, protocols = _resolve_blocks(evaluation_config)
    selected = images["protocols"]
    if not selected or not (image_dataset or dataset in IMAGE_DATASETS):
        return None
    if dataset in IMAGE_DATASETS and not image_dataset:
        for name in selected:
            if protocols[name]["reference"] is None:
                protocols[name]["reference"] = dataset
                protocols[name]["reference_split"] = "all"
    return _resolved(images, weights, protocols, selected)


def resolve_image_set_protocols(
    evaluation_config: dict, dataset: str | None, protocol_names: list[str] | None = None, image_dataset: bool = False
) -> dict:
    """Resolve the image protocols that score an image set from disk.

    Unlike a run of the grid, an image set may imitate any dataset: a
    protocol whose ``reference`` is not set uses the bundled digits when
    ``dataset`` is ``digits`` and is rejected otherwise.

    Args:
        evaluation_config: the ``evaluation`` block of a pipeline config.
        dataset: the dataset the images imitate, or ``None`` if not known.
        protocol_names: the protocols to run; ``None`` runs those listed in
            ``evaluation.images.protocols``.
        image_dataset: whether ``dataset`` is an image dataset of the config
            (CIFAR-10, an image folder, ...); a protocol without a reference
            then compares against its ``reference_split``.

    Returns:
        The structure ``resolve_image_protocols`` returns, for the selected
        protocols in the order given.

    Raises:
        ProtocolSettingsError: for unknown names or keys, values out of range,
            no selected protocol, or a protocol without a reference.
    """
    images, weights, protocols = _resolve_blocks(evaluation_config)
    if protocol_names is None:
        selected = images["protocols"]
    else:
        selected = list(protocol_names)
        check_selected_protocols(selected, where="the requested protocols")
    if not selected:
        raise ProtocolSettingsError(
            "no image protocol selected: evaluation.images.protocols of the config is empty; list protocols there "
            f"({', '.join(IMAGE_PROTOCOLS)}) or name one with nats-bench evaluate --protocol"
        )

    for name in selected:
        if protocols[name]["reference"] is not None or image_dataset:
            continue
        if dataset in IMAGE_DATASETS:
            protocols[name]["reference"] = dataset
            protocols[name]["reference_split"] = "all"
            continue
        missing = "no dataset is given" if dataset is None else f"dataset {dataset!r} has no bundled reference"
        raise ProtocolSettingsError(
            f"evaluation.{name}.reference is not set and {missing}; set evaluation.{name}.reference to a .npz file "
            f"or image folder of real images, or pass --dataset {' or '.join(IMAGE_DATASETS)} to use the bundled images "
            "(or the name of an image dataset of the config, such as cifar10, to use its training split)"
        )
    return _resolved(images, weights, protocols, selected)
