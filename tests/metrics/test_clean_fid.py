"""The clean and legacy protocols through clean-fid, offline, with a random stand-in network.

The weights file is a TorchScript archive with the interface of clean-fid's
``inception-2015-12-05.pt`` (``layers``, ``forward(img, return_features)``,
2048 outputs) but a small random network, so the known values below are true
for any weights and the tests run in seconds.
"""

import numpy as np
import pytest
import torch

from nats.data import load_digits
from nats.metrics.clean_fid import evaluate_cleanfid, extract_cleanfid_features, load_cleanfid_model
from nats.metrics.records import SampleCountError, protocol_id
from nats.metrics.weights import CLEANFID_WEIGHTS, InceptionWeightsError, file_sha256, write_random_cleanfid_weights

NUM_IMAGES = 16
SETTINGS = {"num_generated": NUM_IMAGES, "reference_split": "train", "kid_subsets": 4, "kid_subset_size": 8, "batch_size": 5}


@pytest.fixture(scope="module")
def weights_path(tmp_path_factory):
    return write_random_cleanfid_weights(tmp_path_factory.mktemp("weights") / "cleanfid.pt", seed=0)


@pytest.fixture(scope="module")
def digit_images():
    return load_digits(16).samples[:NUM_IMAGES]


def evaluate(images, reference, weights_path, mode, cache_dir=None, metrics=("kid",), **overrides):
    # KID only unless a test needs FID: clean-fid's FID costs about 18 s per call on one thread.
    values, protocol = evaluate_cleanfid(
        images, reference, {**SETTINGS, **overrides}, weights_path, mode=mode, reference_name="digits-test",
        cache_dir=cache_dir, min_fid_samples=4, metrics=metrics,
    )
    return {value.metric: value.value for value in values}, protocol


def test_legacy_fid_names_and_stamp(digit_images, weights_path):
    reference = load_digits(16).samples[200 : 200 + NUM_IMAGES]

    scores, protocol = evaluate(digit_images, reference, weights_path, "legacy_tensorflow", metrics=("fid", "kid"))

    assert sorted(scores) == sorted([f"legacyfid{NUM_IMAGES}_train", f"legacykid{NUM_IMAGES}"])
    assert scores[f"legacyfid{NUM_IMAGES}_train"] > 0
    assert protocol["name"] == "legacy"
    assert protocol["weights_sha256"] == file_sha256(weights_path)
    assert protocol["weights_published"] is False
    assert "random stand-in" in protocol["weights_check"]
    assert protocol["num_generated"] == NUM_IMAGES
    assert protocol["num_real"] == NUM_IMAGES
    assert protocol["kid_subsets"] == 4


def test_clean_kid_smaller_for_same_set(digit_images, weights_path):
    other = load_digits(16).samples[200 : 200 + NUM_IMAGES]

    same, protocol = evaluate(digit_images, digit_images, weights_path, "clean")
    different, _ = evaluate(other, digit_images, weights_path, "clean")

    assert protocol["name"] == "clean"
    assert protocol["mode"] == "clean"
    assert same[f"cleankid{NUM_IMAGES}"] < different[f"cleankid{NUM_IMAGES}"]


def test_kid_repeatable_and_global_rng_untouched(digit_images, weights_path):
    reference = load_digits(16).samples[200 : 200 + NUM_IMAGES]
    np.random.seed(5)
    expected_draw = np.random.rand()
    np.random.seed(5)

    first, _ = evaluate(digit_images, reference, weights_path, "legacy_tensorflow")
    draw_after = np.random.rand()
    second, _ = evaluate(digit_images, reference, weights_path, "legacy_tensorflow")

    assert first == second
    assert draw_after == expected_draw


def test_features_independent_of_batch_size(digit_images, weights_path):
    from nats.metrics.adapter import to_uint8_rgb

    model = load_cleanfid_model(weights_path, "clean")
    pixels = to_uint8_rgb(digit_images)

    in_batches_of_5 = extract_cleanfid_features(pixels, model, "clean", batch_size=5)
    one_batch = extract_cleanfid_features(pixels, model, "clean", batch_size=16)

    assert in_batches_of_5.shape == (NUM_IMAGES, 2048)
    np.testing.assert_allclose(in_batches_of_5, one_batch, rtol=1e-5, atol=1e-6)


def test_real_features_cached(digit_images, weights_path, tmp_path):
    first, protocol = evaluate(digit_images, digit_images, weights_path, "clean", cache_dir=tmp_path)
    second, _ = evaluate(digit_images, digit_images, weights_path, "clean", cache_dir=tmp_path)

    assert [path.stem for path in tmp_path.glob("*.pt")] == [protocol["real_features_cache_key"]]
    assert first == second


def test_missing_weights_error_names_file_and_location(digit_images, tmp_path):
    with pytest.raises(InceptionWeightsError) as error:
        evaluate(digit_images, digit_images, tmp_path / "missing.pt", "clean")

    message = str(error.value)
    assert CLEANFID_WEIGHTS.file_name in message
    assert CLEANFID_WEIGHTS.url in message
    assert "evaluation.inception_weights.clean_fid" in message
    assert "sha256" in message


def test_too_few_images_rejected_before_weights(digit_images, tmp_path):
    with pytest.raises(SampleCountError) as error:
        evaluate_cleanfid(
            digit_images, digit_images, SETTINGS, tmp_path / "missing.pt", mode="clean", reference_name="x"
        )

    message = str(error.value)
    assert "FID needs at least 2048 generated images, but num_generated is 16" in message
    assert "raise evaluation.clean.num_generated to at least 2048" in message
    assert "drop 'fid' from evaluation.clean.metrics" in message


def test_too_few_real_images_names_reference_fix(digit_images, tmp_path):
    settings = {**SETTINGS, "kid_subset_size": 12}

    with pytest.raises(SampleCountError) as error:
        evaluate_cleanfid(
            digit_images, digit_images[:10], settings, tmp_path / "missing.pt", mode="legacy_tensorflow",
            reference_name="x", metrics=("kid",),
        )

    message = str(error.value)
    assert "KID with subsets of 12 needs at least 12 real images, but the reference has 10" in message
    assert "set evaluation.legacy.reference to a .npz file or image folder with at least 12 images" in message
    assert "lower evaluation.legacy.kid_subset_size" in message


def test_same_named_references_differ_in_stamp_and_cache(digit_images, weights_path, tmp_path):
    other_reference = load_digits(16).samples[200 : 200 + NUM_IMAGES]

    _, first = evaluate(digit_images, digit_images, weights_path, "clean", cache_dir=tmp_path)
    _, second = evaluate(digit_images, other_reference, weights_path, "clean", cache_dir=tmp_path)

    assert first["reference"] == second["reference"]
    assert first["reference_pixels_sha256"] != second["reference_pixels_sha256"]
    assert first["real_features_cache_key"] != second["real_features_cache_key"]
    assert protocol_id(first) != protocol_id(second)
    assert len(list(tmp_path.glob("*.pt"))) == 2
