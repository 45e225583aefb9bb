"""Get an image dataset ready before any run trains on it.

The pipeline runs this once per image dataset of a grid, on the machine that
submits the jobs. A download then happens once, where the network is,
rather than in every training job at the same time. A missing dataset stops
the grid before training, with the path and layout it expects.
"""

import logging

from nats.data.images import IMAGE_SOURCE_DEFAULTS, _prepared_source, _split_label, _warn_on_unexpected_size

logger = logging.getLogger(__name__)


def prepare_image_dataset(name: str, settings: dict) -> dict:
    """Check (and download, where allowed) the training split of an image dataset.

    Args:
        name: the dataset's name in the grid.
        settings: its resolved dataset settings, with ``source`` when the name
            is not itself a source.

    Returns:
        A manifest: dataset name, source, split, image count, the official
        count, the preprocessing and the files the split is read from.

    Raises:
        DatasetNotFoundError: if files are missing and will not be downloaded;
            the message names the expected paths, the layout and the fix.
        ModuleNotFoundError: if reading or downloading needs a package that is
            not installed.
    """
    source = settings.get("source") or name
    image_source = _prepared_source(source, settings, "train")
    count = len(image_source.open("train"))
    _warn_on_unexpected_size(image_source, "train", count)

    manifest = {
        "dataset": name,
        "source": source,
        "split": _split_label(image_source, "train"),
        "num_images": count,
        "official_num_images": IMAGE_SOURCE_DEFAULTS[source]["training_set_size"],
        "preprocessing": image_source.preprocessing().describe(),
        "files": [str(path) for path in image_source.required_paths("train")],
    }
    logger.info("%s: %d training images from %s", name, count, ", ".join(manifest["files"]))
    return manifest
