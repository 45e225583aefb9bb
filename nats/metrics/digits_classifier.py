"""A small digits classifier, used as the feature extractor of the digits metrics.

Inception features mean little on 16x16 grayscale digits, so the digits
protocol scores samples the way the CFG papers (Johnson & Zhang, ICML 2018)
scored MNIST: with a classifier trained on the domain. ``build_classifier`` trains it on the training part of
``digits_split`` and reports its accuracy on the held-out part.
``DigitsFeatureExtractor`` wraps the trained weights as a torch-fidelity
feature extractor named ``FEATURE_EXTRACTOR_NAME``, registered on import.
It provides:

- ``features``: the 64-dimensional activations (after ReLU) that feed the
  output layer, used for the Frechet distance and precision/recall;
- ``logits_unbiased``: the class logits. The output layer has no bias, so
  these are the logits the classifier was trained with; the name is the one
  torch-fidelity's Inception Score reads.
"""

import hashlib
import json
import logging
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch_fidelity
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY
from tqdm import tqdm

from nats.atomic_files import atomic_write
from nats.data import digits_split
from nats.metrics.adapter import to_uint8_rgb

logger = logging.getLogger(__name__)

FEATURE_EXTRACTOR_NAME = "nats-digits-classifier"
FEATURE_DIM = 64
MAX_FEATURE_DIM = 128
NUM_CLASSES = 10
MIN_HELD_OUT_ACCURACY = 0.95
TRAIN_BATCH_SIZE = 64
LEARNING_RATE = 1e-3
EVAL_BATCH_SIZE = 500


class ClassifierError(ValueError):
    """A classifier weights file that is missing, invalid or does not fit the data."""


class DigitsClassifier(nn.Module):
    """Three convolutions and two linear layers for one-channel digit images.

    Args:
        resolution: side of the square input images, at least 8.
        feature_dim: width of the feature layer, at most ``MAX_FEATURE_DIM``.
    """

    def __init__(self, resolution: int, feature_dim: int = FEATURE_DIM):
        super().__init__()
        if resolution < 8:
            raise ClassifierError(f"classifier resolution {resolution} is below 8; use 8 or more")
        if not 1 <= feature_dim <= MAX_FEATURE_DIM:
            raise ClassifierError(f"feature_dim {feature_dim} must lie in [1, {MAX_FEATURE_DIM}]")
        self.resolution = resolution
        self.feature_dim = feature_dim
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, NUM_CLASSES, bias=False)

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Compute the feature layer and the logits of float images in [-1, 1]."""
        features = self.body(images)
        return features, self.head(features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(images)[1]


def uint8_to_classifier_input(pixels: torch.Tensor) -> torch.Tensor:
    """Map uint8 (N, C, H, W) images back to one float channel in [-1, 1].

    The channels are averaged, which for the adapter's tiled grayscale images
    returns the original channel.
    """
    return pixels.to(torch.float32).mean(dim=1, keepdim=True) / 127.5 - 1.0


def quantise(images: torch.Tensor) -> torch.Tensor:
    """Round float images to the uint8 grid of the images the classifier receives at evaluation time."""
    return uint8_to_classifier_input(to_uint8_rgb(images))


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@torch.no_grad()
def _accuracy(model: DigitsClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(images), EVAL_BATCH_SIZE):
        logits = model(images[start : start + EVAL_BATCH_SIZE])
        correct += int((logits.argmax(dim=1) == labels[start : start + EVAL_BATCH_SIZE]).sum())
    return correct / len(images)


def _train(model: DigitsClassifier, images: torch.Tensor, labels: torch.Tensor, epochs: int, seed: int) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    order_generator = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in tqdm(range(epochs), desc="digits classifier", unit="epoch", leave=False):
        order = torch.randperm(len(images), generator=order_generator)
        epoch_loss = 0.0
        for start in range(0, len(images), TRAIN_BATCH_SIZE):
            batch = order[start : start + TRAIN_BATCH_SIZE]
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item() * len(batch)
        logger.debug("classifier epoch %d: mean loss %.4f", epoch + 1, epoch_loss / len(images))


def build_classifier(
    resolution: int,
    epochs: int,
    seed: int,
    out_path: Path,
    min_held_out_accuracy: float = MIN_HELD_OUT_ACCURACY,
) -> dict:
    """Train the digits classifier and save its weights and a summary.

    On the CPU, the same seed and the same number of torch threads give the
    same weights bit for bit. The seed fixes the initialisation and the
    minibatch order, and the caller's global random state is left untouched.
    NOTE: another thread count changes the floating-point reductions, so the
    weights and their sha256 differ (measured with 1 and 2 threads). The images are quantised to the
    uint8 grid first, so training uses the inputs ``DigitsFeatureExtractor`` receives.

    Args:
        resolution: side of the digit images, as in the run configs.
        epochs: passes over the training split.
        seed: seed of initialisation and minibatch order.
        out_path: where the weights go (``torch.save`` of a dict). The summary
            is written next to it, to ``out_path.with_suffix(".json")``.
        min_held_out_accuracy: the build fails below this held-out accuracy,
            because a weak classifier gives meaningless scores.

    Returns:
        The summary: held-out and train accuracy, epochs, seed, resolution,
        feature dimension, number of images and the weights' sha256.

    Raises:
        ClassifierError: for invalid settings or a held-out accuracy below
            ``min_held_out_accuracy``.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ClassifierError(f"classifier epochs must be a positive integer, got {epochs!r}")
    out_path = Path(out_path)

    split = digits_split(resolution)
    train_images, train_labels = quantise(split["train"][0]), split["train"][1]
    held_out_images, held_out_labels = quantise(split["held_out"][0]), split["held_out"][1]
    logger.info(
        "training the %dpx digits classifier on %d images for %d epochs (seed %d)",
        resolution, len(train_images), epochs, seed,
    )

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DigitsClassifier(resolution)
        _train(model, train_images, train_labels, epochs, seed)

    train_accuracy = _accuracy(model, train_images, train_labels)
    held_out_accuracy = _accuracy(model, held_out_images, held_out_labels)
    logger.info("digits classifier accuracy: train %.4f, held-out %.4f", train_accuracy, held_out_accuracy)
    if held_out_accuracy < min_held_out_accuracy:
        raise ClassifierError(
            f"digits classifier reached held-out accuracy {held_out_accuracy:.4f}, below the required "
            f"{min_held_out_accuracy}; train for more epochs than {epochs}"
        )

    checkpoint = {
        "state_dict": model.state_dict(),
        "resolution": resolution,
        "feature_dim": model.feature_dim,
    }
    atomic_write(out_path, lambda handle: torch.save(checkpoint, handle))

    summary = {
        "held_out_accuracy": held_out_accuracy,
        "train_accuracy": train_accuracy,
        "num_train": len(train_images),
        "num_held_out": len(held_out_images),
        "epochs": epochs,
        "seed": seed,
        "resolution": resolution,
        "feature_dim": model.feature_dim,
        "weights_sha256": file_sha256(out_path),
    }
    summary_text = json.dumps(summary, indent=2) + "\n"
    atomic_write(out_path.with_suffix(".json"), lambda handle: handle.write(summary_text.encode()))
    return summary


def load_classifier(weights_path: Path) -> DigitsClassifier:
    """Load a classifier saved by ``build_classifier``, in eval mode.

    Raises:
        ClassifierError: if the file is missing or is not such a checkpoint.
    """
    weights_path = Path(weights_path)
    if not weights_path.is_file():
        raise ClassifierError(
            f"digits classifier weights {str(weights_path)!r} not found; build them with "
            "nats.metrics.digits_classifier.build_classifier"
        )
    checkpoint = torch.load(weights_path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or not {"state_dict", "resolution", "feature_dim"} <= set(checkpoint):
        raise ClassifierError(
            f"{str(weights_path)!r} is not a digits classifier checkpoint: expected a dict with "
            "'state_dict', 'resolution' and 'feature_dim'"
        )
    model = DigitsClassifier(checkpoint["resolution"], checkpoint["feature_dim"])
    model.load_state_dict(checkpoint["state_dict"])
    model.requires_grad_(False)
    return model.eval()


class DigitsFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity feature extractor around a trained ``DigitsClassifier``.

    torch-fidelity builds it as ``cls(name, features_list, **kwargs)`` with all
    keyword arguments of ``calculate_metrics``, so the weights arrive as
    ``feature_extractor_weights_path``. Nothing is downloaded: the path is
    required.
    """

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise ClassifierError(
                f"the {FEATURE_EXTRACTOR_NAME!r} feature extractor needs feature_extractor_weights_path, "
                "the file written by build_classifier"
            )
        self.classifier = load_classifier(Path(feature_extractor_weights_path))
        self.requires_grad_(False)
        self.eval()

    def forward(self, pixels):
        if not (torch.is_tensor(pixels) and pixels.dtype == torch.uint8 and pixels.dim() == 4):
            raise ClassifierError(
                f"expected uint8 images (N, 3, H, W) from the image adapter, got "
                f"{getattr(pixels, 'dtype', type(pixels).__name__)}"
            )
        resolution = self.classifier.resolution
        if tuple(pixels.shape[2:]) != (resolution, resolution):
            raise ClassifierError(
                f"images are {tuple(pixels.shape[2:])} but the classifier was trained at "
                f"{resolution}x{resolution}; build a classifier at the run's resolution"
            )
        features, logits = self.classifier.features_and_logits(uint8_to_classifier_input(pixels))
        by_name = {"features": features, "logits_unbiased": logits}
        return tuple(by_name[name].to(torch.float32) for name in self.features_list)

    @staticmethod
    def get_provided_features_list():
        return "features", "logits_unbiased"

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {
            "isc": "logits_unbiased",
            "fid": "features",
            "kid": "features",
            "prc": "features",
        }[metric]

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 16, 16, dtype=torch.uint8)


if FEATURE_EXTRACTOR_NAME not in FEATURE_EXTRACTORS_REGISTRY:
    torch_fidelity.register_feature_extractor(FEATURE_EXTRACTOR_NAME, DigitsFeatureExtractor)
