"""The inception protocol through the adapter, with a random-valued weights file.

The weights file has the keys, shapes and format of torch-fidelity's
``inception-v3-compat`` weights but random values, so every known value
below is true for any weights. No number here is comparable with published ones.
Image counts are small because Inception-v3 runs at about 3 images per second
on one CPU thread; FID's production minimum is lowered through
``min_fid_samples`` only.
"""

import numpy as np
import pytest
import torch
import torch_fidelity
from torch_fidelity.metric_fid import fid_statistics_to_metric

from nats.data import load_digits
from nats.metrics.adapter import ImageRangeError, to_uint8_rgb
from nats.metrics.inception import (
    LOGITS,
    MIN_FID_SAMPLES,
    RNG_SEED,
    evaluate_inception,
    inception_metric_names,
    metrics_from_features,
)
from nats.metrics.feature_cache import pixels_sha256
from nats.metrics.records import SampleCountError
from nats.metrics.references import pixels_to_float
from nats.metrics.weights import (
    TORCH_FIDELITY_WEIGHTS,
    InceptionWeightsError,
    file_sha256,
    write_random_torch_fidelity_weights,
)

NUM_IMAGES = 12
TEST_MIN_FID_SAMPLES = 4

SETTINGS = {
    "num_generated": NUM_IMAGES,
    "reference_split": "train",
    "is_splits": 1,
    "kid_subsets": 5,
    "kid_subset_size": 6,
    "prc_neighborhood": 3,
    "batch_size": 16,
    "density_coverage": True,
}


@pytest.fixture(scope="module")
def weights_path(tmp_path_factory):
    return write_random_torch_fidelity_weights(tmp_path_factory.mktemp("weights") / "inception.pth", seed=0)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("real-features")


@pytest.fixture(scope="module")
def digit_images():
    return load_digits(16).samples[:NUM_IMAGES]


def evaluate(images, reference, weights_path, cache_dir, metrics=("fid", "is", "kid", "prc"), **overrides):
    settings = {**SETTINGS, **overrides}
    values, protocol = evaluate_inception(
        images,
        reference,
        settings,
        weights_path,
        reference_name="digits-test",
        cache_dir=cache_dir,
        min_fid_samples=TEST_MIN_FID_SAMPLES,
        metrics=metrics,
    )
    return {value.metric: value.value for value in values}, protocol


@pytest.fixture(scope="module")
def self_evaluation(digit_images, weights_path, cache_dir):
    return evaluate(digit_images, digit_images, weights_path, cache_dir)


def test_frechet_distance_of_gaussians_matches_closed_form():
    generator = np.random.default_rng(0)
    mean_1, mean_2 = generator.normal(size=5), generator.normal(size=5)
    variances_1, variances_2 = generator.uniform(0.5, 2.0, 5), generator.uniform(0.5, 2.0, 5)

    closed_form = np.sum((mean_1 - mean_2) ** 2) + np.sum(
        variances_1 + variances_2 - 2 * np.sqrt(variances_1 * variances_2)
    )
    computed = fid_statistics_to_metric(
        {"mu": mean_1, "sigma": np.diag(variances_1)},
        {"mu": mean_2, "sigma": np.diag(variances_2)},
        verbose=False,
    )[torch_fidelity.KEY_METRIC_FID]

    assert computed == pytest.approx(closed_form, rel=1e-10)


def test_fid_of_set_with_itself_is_zero(self_evaluation):
    # NOTE: the bound is 1e-4, not 1e-6. With 12 images the 2048 x 2048
    # covariance has rank 11, and torch-fidelity takes square roots of the
    # eigenvalues of the singular product: about 2037 round-off eigenvalues
    # add 1.5e-5 here. Only a full-rank set (over 2048 images, ten minutes
    # on this CPU path) could test 1e-6; the digits protocol's 64 features do.
    scores, _ = self_evaluation

    assert abs(scores[f"fid{NUM_IMAGES}_train"]) < 1e-4


def test_fid_same_at_batch_sizes_1_and_16(digit_images, weights_path, cache_dir):
    reference = load_digits(16).samples[100 : 100 + NUM_IMAGES]

    batched, _ = evaluate(digit_images, reference, weights_path, cache_dir, ("fid",), batch_size=16)
    one_by_one, _ = evaluate(digit_images, reference, weights_path, None, ("fid",), batch_size=1)

    name = f"fid{NUM_IMAGES}_train"
    assert batched[name] > 0
    assert one_by_one[name] == pytest.approx(batched[name], abs=1e-4)


def test_is_same_for_sorted_and_shuffled_images(digit_images, weights_path, cache_dir):
    # NOTE: one split only. torch-fidelity 0.4.0 puts the image at input
    # position i into a split by RandomState(2020).permutation(N)[i], so a
    # reordered input fills the 10 splits with other images and their mean
    # IS moves by sampling noise. The 10-split assignment is pinned by
    # test_is_with_10_splits_known_answer instead.
    labels = load_digits(16).info["labels"][:NUM_IMAGES]
    sorted_images = digit_images[torch.argsort(torch.as_tensor(labels), stable=True)]
    shuffled_images = digit_images[torch.randperm(NUM_IMAGES, generator=torch.Generator().manual_seed(1))]

    sorted_scores, _ = evaluate(sorted_images, digit_images, weights_path, cache_dir, ("is",))
    shuffled_scores, _ = evaluate(shuffled_images, digit_images, weights_path, cache_dir, ("is",))

    name = f"is{NUM_IMAGES}_s1"
    assert sorted_scores[name] == pytest.approx(shuffled_scores[name], rel=1e-9)


def test_is_with_10_splits_known_answer():
    # Logits one-hot enough that p(y|x) is 1 for one of 10 classes, placed so
    # that each split of torch-fidelity's seeded shuffle (numpy
    # RandomState(RNG_SEED).permutation) contains every class equally often:
    # each split's IS is then exp(log 10) = 10. Any other split assignment
    # leaves some split unbalanced, with IS below 10.
    num_images, num_classes, splits = 1000, 10, 10
    shuffled_position = np.random.RandomState(RNG_SEED).permutation(num_images)
    classes = np.empty(num_images, dtype=np.int64)
    classes[shuffled_position] = np.arange(num_images) % num_classes
    logits = torch.zeros(num_images, 1008)
    logits[torch.arange(num_images), torch.from_numpy(classes)] = 60.0
    settings = {**SETTINGS, "is_splits": splits}

    scores = metrics_from_features({LOGITS: logits}, {}, settings, ("is",))

    assert scores[torch_fidelity.KEY_METRIC_ISC_MEAN] == pytest.approx(10.0, rel=1e-9)
    assert scores[torch_fidelity.KEY_METRIC_ISC_STD] < 1e-9


def test_tight_cluster_has_high_precision_low_recall(digit_images, weights_path, cache_dir):
    # Generated: one real digit with +-1 pixel-level noise, inside the real set.
    noise = torch.randint(-1, 2, (NUM_IMAGES, 1, 16, 16), generator=torch.Generator().manual_seed(2))
    base_pixels = to_uint8_rgb(digit_images[:1])[:, :1].to(torch.int64)
    cluster = pixels_to_float((base_pixels + noise).clamp(0, 255).to(torch.uint8).numpy(), "cluster")

    scores, _ = evaluate(cluster, digit_images, weights_path, cache_dir, ("prc",))

    assert scores[f"precision{NUM_IMAGES}_k3"] == 1.0
    assert scores[f"recall{NUM_IMAGES}_k3"] <= 2 / NUM_IMAGES


def test_protocol_stamp_names_weights_counts_and_reference(self_evaluation, weights_path):
    scores, protocol = self_evaluation

    assert protocol["feature_extractor"] == "inception-v3-compat"
    assert protocol["weights_sha256"] == file_sha256(weights_path)
    assert protocol["weights_published"] is False
    assert "does not start with 6726825d" in protocol["weights_check"]
    assert protocol["num_generated"] == NUM_IMAGES
    assert protocol["num_real"] == NUM_IMAGES
    assert protocol["reference"] == "digits-test"
    assert protocol["reference_pixels_sha256"] == pixels_sha256(to_uint8_rgb(load_digits(16).samples[:NUM_IMAGES]))
    assert protocol["is_splits"] == 1
    assert protocol["kid_subsets"] == 5
    assert protocol["kid_subset_size"] == 6
    assert protocol["torch_fidelity"] == torch_fidelity.__version__
    assert set(scores) == set(inception_metric_names(SETTINGS).values())
    assert protocol["density_coverage"] == "prdc 0.2"
    assert scores[f"coverage{NUM_IMAGES}_k3"] == 1.0


def test_uint8_set_round_trips_bit_exact_through_adapter():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, axis=3)

    adapted = to_uint8_rgb(pixels_to_float(pixels, "test"))

    assert torch.equal(adapted, torch.from_numpy(pixels.transpose(0, 3, 1, 2)))


def test_float_pixels_in_0_255_are_rejected(digit_images, weights_path):
    pixels_as_float = (digit_images + 1) * 127.5

    with pytest.raises(ImageRangeError, match=r"\[0, 255\]"):
        evaluate_inception(
            pixels_as_float, digit_images, SETTINGS, weights_path, reference_name="digits-test",
            min_fid_samples=TEST_MIN_FID_SAMPLES,
        )


def test_too_few_images_rejected_before_weights_are_read(digit_images, tmp_path):
    settings = {**SETTINGS, "num_generated": 2000}

    with pytest.raises(SampleCountError) as error:
        evaluate_inception(
            torch.zeros(2000, 1, 16, 16), digit_images, settings, tmp_path / "missing.pth", reference_name="x"
        )

    message = str(error.value)
    assert "2000" in message
    assert str(MIN_FID_SAMPLES) in message
    assert f"raise evaluation.inception.num_generated to at least {MIN_FID_SAMPLES}" in message
    assert "drop 'fid' from evaluation.inception.metrics" in message


def test_too_few_real_images_named_with_minimum(digit_images, tmp_path):
    settings = {**SETTINGS, "num_generated": MIN_FID_SAMPLES}

    with pytest.raises(SampleCountError, match=rf"at least {MIN_FID_SAMPLES} real images, but the reference has {NUM_IMAGES}"):
        evaluate_inception(
            torch.zeros(MIN_FID_SAMPLES, 1, 16, 16), digit_images, settings, tmp_path / "missing.pth",
            reference_name="x",
        )


def test_fewer_images_than_is_splits_rejected(digit_images, tmp_path):
    with pytest.raises(SampleCountError, match=r"IS with 20 splits needs at least 20 generated images, but num_generated is 12"):
        evaluate_inception(
            digit_images, digit_images, {**SETTINGS, "is_splits": 20}, tmp_path / "missing.pth",
            reference_name="x", min_fid_samples=TEST_MIN_FID_SAMPLES,
        )


def test_missing_weights_error_names_file_hash_and_location(digit_images, tmp_path):
    missing = tmp_path / "nowhere" / "inception.pth"

    with pytest.raises(InceptionWeightsError) as error:
        evaluate(digit_images, digit_images, missing, None)

    message = str(error.value)
    assert TORCH_FIDELITY_WEIGHTS.file_name in message
    assert TORCH_FIDELITY_WEIGHTS.sha256_prefix in message
    assert str(missing) in message
    assert "evaluation.inception_weights.torch_fidelity" in message


def test_real_features_come_from_cache_second_time(digit_images, weights_path, tmp_path):
    first_scores, first_protocol = evaluate(digit_images, digit_images, weights_path, tmp_path, ("kid",))
    cache_files = list(tmp_path.glob("*.pt"))
    second_scores, second_protocol = evaluate(digit_images, digit_images, weights_path, tmp_path, ("kid",))

    assert len(cache_files) == 1
    assert cache_files[0].stem == first_protocol["real_features_cache_key"]
    assert second_scores == first_scores
    assert list(tmp_path.glob(".*.tmp")) == []
