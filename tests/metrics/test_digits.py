import json
import math

import pytest
import torch

import nats.metrics.digits as digits_protocol
from nats.data import digits_split, load_digits
from nats.metrics.adapter import ADAPTER_POLICY, ImageRangeError
from nats.metrics.digits import evaluate_digits, frechet_distance, minimum_generated
from nats.metrics.digits_classifier import ClassifierError, file_sha256
from nats.metrics.records import SampleCountError

SETTINGS = {"num_generated": 2000, "is_splits": 10, "prc_neighborhood": 3}


def values_by_name(values):
    return dict(zip(("fd", "cs", "precision", "recall"), values, strict=True))


def real_digits():
    training_set = load_digits(16)
    return training_set.samples, training_set.info["labels"]


def test_frechet_distance_of_set_with_itself_is_zero(classifier_path):
    held_out = digits_split(16)["held_out"][0]

    distance = frechet_distance(held_out, held_out, classifier_path)

    assert abs(distance) < 1e-6


def test_frechet_distance_ranks_noise_far_from_digits(classifier_path):
    split = digits_split(16)
    noise = torch.rand(500, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1

    between_real_parts = frechet_distance(split["held_out"][0], split["train"][0], classifier_path)
    noise_to_real = frechet_distance(noise, split["train"][0], classifier_path)

    assert between_real_parts > 0
    assert noise_to_real > 10 * between_real_parts


def test_real_digits_score_near_ten_classes(classifier_path):
    images, _ = real_digits()
    settings = {**SETTINGS, "num_generated": len(images)}

    values, _ = evaluate_digits(images, classifier_path, settings)

    score = values_by_name(values)["cs"]
    print(f"classifier score of the 1,797 real digits: {score.value:.4f} +- {score.std:.4f}")
    # Confident predictions spread evenly over 10 classes give a score near
    # 10; splits of ~180 images have marginals slightly off uniform.
    assert 9.0 < score.value <= 10.0
    assert score.std > 0


def test_one_class_scores_near_one(classifier_path):
    images, labels = real_digits()
    zeros = images[labels == 0]
    settings = {"num_generated": len(zeros), "is_splits": 1, "prc_neighborhood": 3}

    values, _ = evaluate_digits(zeros, classifier_path, settings)

    score = values_by_name(values)["cs"]
    assert 1.0 <= score.value < 1.2
    assert score.std == 0.0


def test_tight_real_cluster_has_high_precision_low_recall(classifier_path):
    images, labels = real_digits()
    zeros = images[labels == 0]
    settings = {"num_generated": len(zeros), "is_splits": 1, "prc_neighborhood": 3}

    values, _ = evaluate_digits(zeros, classifier_path, settings)

    by_name = values_by_name(values)
    # Every generated image is a real image, so it lies in its own k-NN ball.
    assert by_name["precision"].value == 1.0
    # The zeros' k-NN balls cover little more than the 10% of real zeros.
    assert by_name["recall"].value < 0.2


def test_real_set_against_itself(classifier_path):
    images, _ = real_digits()
    settings = {**SETTINGS, "num_generated": len(images)}

    values, _ = evaluate_digits(images, classifier_path, settings)

    by_name = values_by_name(values)
    assert abs(by_name["fd"].value) < 1e-6
    assert by_name["precision"].value == 1.0
    assert by_name["recall"].value == 1.0


def test_metric_names_and_protocol(classifier_path):
    noise = torch.rand(2100, 1, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1

    values, protocol = evaluate_digits(noise, classifier_path, SETTINGS)

    assert [value.metric for value in values] == ["fd2k_digits", "cs2k_s10", "precision2k_k3", "recall2k_k3"]
    assert [value.higher_is_better for value in values] == [False, True, True, True]
    assert all(math.isfinite(value.value) for value in values)
    assert protocol["name"] == "digits"
    assert protocol["num_generated"] == 2000
    assert protocol["num_real"] == 1797
    assert protocol["reference"] == "digits-all-16px"
    assert protocol["is_splits"] == 10
    assert protocol["prc_neighborhood"] == 3
    assert protocol["weights_sha256"] == file_sha256(classifier_path)
    assert protocol["adapter"] == ADAPTER_POLICY
    assert protocol["torch_fidelity"] == "0.4.0"


def test_extra_images_beyond_count_are_ignored(classifier_path):
    images, _ = real_digits()
    settings = {**SETTINGS, "num_generated": 1000}
    noise = torch.rand(500, 1, 16, 16, generator=torch.Generator().manual_seed(2)) * 2 - 1

    with_extra, _ = evaluate_digits(torch.cat([images[:1000], noise]), classifier_path, settings)
    exact, _ = evaluate_digits(images[:1000], classifier_path, settings)

    assert [value.value for value in with_extra] == [value.value for value in exact]


@pytest.fixture
def fidelity_must_not_run(monkeypatch):
    def fail(**kwargs):
        raise AssertionError("torch-fidelity ran before the sample count was checked")

    monkeypatch.setattr(digits_protocol.torch_fidelity, "calculate_metrics", fail)


def test_fewer_images_than_configured_are_rejected(classifier_path, fidelity_must_not_run):
    images = torch.zeros(1999, 1, 16, 16)

    with pytest.raises(SampleCountError, match="got 1999 generated images.*num_generated = 2000"):
        evaluate_digits(images, classifier_path, SETTINGS)


def test_count_below_minimum_is_rejected(classifier_path, fidelity_must_not_run):
    settings = {**SETTINGS, "num_generated": 64}
    images = torch.zeros(100, 1, 16, 16)

    with pytest.raises(SampleCountError, match="num_generated is 64, below the minimum of 65"):
        evaluate_digits(images, classifier_path, settings)


def test_minimum_follows_splits_and_feature_dim():
    assert minimum_generated(64, 10, 3) == 65
    assert minimum_generated(64, 50, 3) == 100
    assert minimum_generated(8, 2, 20) == 21


def test_images_outside_range_are_rejected(classifier_path):
    images = torch.full((2000, 1, 16, 16), 2.0)

    with pytest.raises(ImageRangeError, match="outside the accepted range"):
        evaluate_digits(images, classifier_path, SETTINGS)


def test_other_resolution_is_rejected(classifier_path):
    with pytest.raises(ValueError, match="16x16"):
        evaluate_digits(torch.zeros(2000, 1, 8, 8), classifier_path, SETTINGS)


def test_changed_weights_are_detected(classifier_path, tmp_path):
    copied = tmp_path / "classifier.pt"
    copied.write_bytes(classifier_path.read_bytes())
    summary = json.loads(classifier_path.with_suffix(".json").read_text())
    summary["weights_sha256"] = "0" * 64
    copied.with_suffix(".json").write_text(json.dumps(summary))
    images, _ = real_digits()

    with pytest.raises(ClassifierError, match="rebuild the classifier"):
        evaluate_digits(images, copied, {**SETTINGS, "num_generated": 1797})


def test_missing_setting_is_reported(classifier_path):
    with pytest.raises(ValueError, match="is_splits"):
        evaluate_digits(torch.zeros(2000, 1, 16, 16), classifier_path, {"num_generated": 2000, "prc_neighborhood": 3})
