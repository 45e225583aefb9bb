import numpy as np
import pytest
from prdc import compute_prdc

from nats.metrics.prdc import batched_density_coverage, density_coverage, prdc_matrix_bytes


def features(seed, count, shift=0.0, scale=1.0, dim=16):
    return (np.random.default_rng(seed).normal(size=(count, dim)) * scale + shift).astype(np.float32)


@pytest.mark.parametrize("nearest_k", [1, 3, 5])
def test_batched_equals_prdc(nearest_k):
    real = features(0, 300)
    generated = features(1, 250, shift=0.3, scale=0.8)

    expected = compute_prdc(real_features=real, fake_features=generated, nearest_k=nearest_k)
    batched = batched_density_coverage(real, generated, nearest_k, block_rows=37)

    assert batched["density"] == pytest.approx(float(expected["density"]), abs=1e-12)
    assert batched["coverage"] == pytest.approx(float(expected["coverage"]), abs=1e-12)


def test_switches_to_batched_above_memory_limit():
    real = features(0, 120)
    generated = features(1, 100)

    with_prdc = density_coverage(real, generated, 3)
    batched = density_coverage(real, generated, 3, max_matrix_bytes=prdc_matrix_bytes(120, 100) - 1)

    assert with_prdc["implementation"] == "prdc 0.2"
    assert batched["implementation"] == "batched"
    assert batched["density"] == pytest.approx(with_prdc["density"], abs=1e-12)
    assert batched["coverage"] == pytest.approx(with_prdc["coverage"], abs=1e-12)


def test_tight_cluster_low_coverage():
    real = features(0, 200)
    cluster = real[0] + features(1, 200, scale=0.01)

    result = density_coverage(real, cluster, 3)

    assert result["coverage"] < 0.1


def test_same_distribution_near_one():
    result = density_coverage(features(0, 1000), features(1, 1000), 5)

    assert result["density"] == pytest.approx(1.0, abs=0.15)
    assert result["coverage"] > 0.9


def test_too_few_real_samples_rejected():
    with pytest.raises(ValueError, match="more than nearest_k = 3 real samples, got 3"):
        density_coverage(features(0, 3), features(1, 10), 3)
