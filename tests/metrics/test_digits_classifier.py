import json

import pytest
import torch
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY
from torch_fidelity.utils import create_feature_extractor

from nats.data import digits_split
from nats.metrics.adapter import to_uint8_rgb
from nats.metrics.digits_classifier import (
    FEATURE_DIM,
    FEATURE_EXTRACTOR_NAME,
    ClassifierError,
    DigitsClassifier,
    DigitsFeatureExtractor,
    build_classifier,
    file_sha256,
    load_classifier,
)


def make_extractor(weights_path, features):
    return create_feature_extractor(
        FEATURE_EXTRACTOR_NAME, features, cuda=False, feature_extractor_weights_path=str(weights_path), verbose=False
    )


def test_held_out_accuracy_exceeds_95_percent(classifier_build):
    _, summary = classifier_build

    print(f"digits classifier: held-out {summary['held_out_accuracy']:.4f}, train {summary['train_accuracy']:.4f}")
    assert summary["held_out_accuracy"] > 0.95
    assert summary["num_held_out"] == 359


def test_summary_file_pins_the_weights(classifier_build):
    weights_path, summary = classifier_build

    written = json.loads(weights_path.with_suffix(".json").read_text())

    assert written == summary
    assert written["weights_sha256"] == file_sha256(weights_path)
    assert written["feature_dim"] == FEATURE_DIM
    assert {"epochs", "seed", "train_accuracy", "held_out_accuracy"} <= set(written)


def test_build_is_deterministic_for_a_seed(tmp_path):
    first = build_classifier(16, 2, 7, tmp_path / "a.pt", min_held_out_accuracy=0.0)
    second = build_classifier(16, 2, 7, tmp_path / "b.pt", min_held_out_accuracy=0.0)
    other_seed = build_classifier(16, 2, 8, tmp_path / "c.pt", min_held_out_accuracy=0.0)

    assert first["weights_sha256"] == second["weights_sha256"]
    assert first["weights_sha256"] != other_seed["weights_sha256"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.json", "a.pt", "b.json", "b.pt", "c.json", "c.pt"]


def test_build_leaves_global_random_state_alone(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)

    build_classifier(16, 1, 0, tmp_path / "a.pt", min_held_out_accuracy=0.0)

    assert torch.equal(torch.rand(3), expected)


def test_build_rejects_weak_classifier(tmp_path):
    with pytest.raises(ClassifierError, match="held-out accuracy"):
        build_classifier(16, 1, 0, tmp_path / "a.pt", min_held_out_accuracy=1.01)

    assert not (tmp_path / "a.pt").exists()


def test_feature_dim_above_128_is_rejected():
    with pytest.raises(ClassifierError, match="feature_dim"):
        DigitsClassifier(16, feature_dim=129)


def test_extractor_is_registered_with_torch_fidelity():
    assert FEATURE_EXTRACTORS_REGISTRY[FEATURE_EXTRACTOR_NAME] is DigitsFeatureExtractor
    assert DigitsFeatureExtractor.get_default_feature_layer_for_metric("fid") == "features"
    assert DigitsFeatureExtractor.get_default_feature_layer_for_metric("isc") == "logits_unbiased"


def test_extractor_features_match_classifier(classifier_path):
    images = digits_split(16)["held_out"][0][:50]
    extractor = make_extractor(classifier_path, ["features", "logits_unbiased"])

    features, logits = extractor(to_uint8_rgb(images))

    classifier = load_classifier(classifier_path)
    expected_features, expected_logits = classifier.features_and_logits(images)
    assert features.shape == (50, FEATURE_DIM)
    assert logits.shape == (50, 10)
    # The extractor receives images rounded to the uint8 grid, so agreement
    # is close but not exact.
    assert torch.allclose(features, expected_features, atol=0.05 * expected_features.abs().max())
    assert torch.equal(logits.argmax(dim=1), expected_logits.argmax(dim=1))


def test_extractor_predicts_held_out_labels(classifier_path):
    images, labels = digits_split(16)["held_out"]
    extractor = make_extractor(classifier_path, ["logits_unbiased"])

    (logits,) = extractor(to_uint8_rgb(images))

    accuracy = (logits.argmax(dim=1) == labels).float().mean().item()
    assert accuracy > 0.95


def test_extractor_requires_weights_path():
    with pytest.raises(ClassifierError, match="feature_extractor_weights_path"):
        DigitsFeatureExtractor(FEATURE_EXTRACTOR_NAME, ["features"])


def test_extractor_rejects_other_resolution(classifier_path):
    extractor = make_extractor(classifier_path, ["features"])

    with pytest.raises(ClassifierError, match="16x16"):
        extractor(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))


def test_missing_weights_file_is_reported(tmp_path):
    with pytest.raises(ClassifierError, match="not found"):
        load_classifier(tmp_path / "missing.pt")
