import math

import pytest
import torch

from nats.data import MIXTURES
from nats.data.mixtures import sample_mixture
from nats.metrics.mixtures import evaluate_mixture, mode_statistics, reverse_kl_to_uniform
from nats.metrics.records import SampleCountError

SETTINGS = {"num_samples": 2500, "quality_stds": 3.0, "min_mode_samples": 20}
# P(|x| <= 3 sigma) for a 2D isotropic Gaussian: 1 - exp(-9 / 2).
WITHIN_THREE_STDS = 1.0 - math.exp(-4.5)


def mixture(name):
    make_centers, std = MIXTURES[name]
    return make_centers(), std


def score(points, name, settings=SETTINGS):
    centers, std = mixture(name)
    values, protocol = evaluate_mixture(points, centers, std, settings, reference=name)
    return {value.metric: value for value in values}, protocol


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_exact_samples_cover_all_modes(name):
    points = sample_mixture(name, 2500, torch.Generator().manual_seed(0))
    num_modes = len(mixture(name)[0])

    values, _ = score(points, name)

    assert values["modes2.5k"].value == num_modes
    assert abs(values["hq2.5k"].value - WITHIN_THREE_STDS) < 0.01
    assert 0.0 <= values["rkl2.5k"].value < 0.05


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_points_at_one_centre_cover_one_mode(name):
    centers, _ = mixture(name)
    points = centers[3].expand(2500, 2).clone()

    values, _ = score(points, name)

    assert values["modes2.5k"].value == 1
    assert values["hq2.5k"].value == 1.0
    assert values["rkl2.5k"].value == pytest.approx(math.log(len(centers)), abs=1e-12)


def test_far_points_cover_no_mode():
    points = torch.full((2500, 2), 50.0)

    values, _ = score(points, "ring8")

    assert values["modes2.5k"].value == 0
    assert values["hq2.5k"].value == 0.0
    assert values["rkl2.5k"].value == pytest.approx(math.log(8))


def test_half_the_modes_give_log_two():
    centers, _ = mixture("ring8")
    points = centers[[0, 2, 4, 6]].repeat(625, 1)

    values, _ = score(points, "ring8")

    assert values["modes2.5k"].value == 4
    assert values["rkl2.5k"].value == pytest.approx(math.log(2), abs=1e-12)


def test_quality_radius_is_three_stds():
    centers, std = mixture("ring8")
    inside = centers[0] + torch.tensor([2.99 * std, 0.0])
    outside = centers[0] + torch.tensor([0.0, 3.01 * std])

    statistics = mode_statistics(torch.stack([inside, outside]), centers, std, 3.0, 1)

    assert statistics.high_quality.tolist() == [True, False]
    assert statistics.nearest_mode.tolist() == [0, 0]


def test_mode_needs_min_mode_samples():
    centers, std = mixture("ring8")
    points = torch.cat([centers[0].expand(20, 2), centers[1].expand(19, 2)])

    statistics = mode_statistics(points, centers, std, 3.0, 20)

    assert statistics.modes_covered == 1
    assert statistics.high_quality_counts[:2].tolist() == [20, 19]


def test_non_finite_points_count_as_low_quality():
    centers, std = mixture("ring8")
    points = torch.cat([centers[0].expand(3, 2), torch.tensor([[float("nan"), 0.0], [float("inf"), 1.0]])])

    statistics = mode_statistics(points, centers, std, 3.0, 1)

    assert statistics.high_quality.tolist() == [True, True, True, False, False]
    assert statistics.nearest_mode.tolist()[3:] == [-1, -1]
    assert statistics.high_quality_share == pytest.approx(0.6)


def test_reverse_kl_known_values():
    assert reverse_kl_to_uniform(torch.tensor([5, 5, 5, 5])) == pytest.approx(0.0, abs=1e-12)
    assert reverse_kl_to_uniform(torch.tensor([1, 0, 0, 0])) == pytest.approx(math.log(4))
    assert reverse_kl_to_uniform(torch.tensor([0, 0, 0])) == pytest.approx(math.log(3))
    # q = (3/4, 1/4) over M = 2: 3/4 log(3/2) + 1/4 log(1/2).
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert reverse_kl_to_uniform(torch.tensor([3, 1])) == pytest.approx(expected)


def test_fewer_points_than_configured_are_rejected():
    with pytest.raises(SampleCountError, match="got 2499 points.*num_samples = 2500"):
        score(torch.zeros(2499, 2), "ring8")


def test_only_configured_count_is_used():
    centers, _ = mixture("ring8")
    points = torch.cat([centers[0].expand(2500, 2), torch.full((500, 2), 50.0)])

    values, protocol = score(points, "ring8")

    assert values["hq2.5k"].value == 1.0
    assert protocol["num_samples"] == 2500


def test_names_follow_sample_count():
    centers, _ = mixture("grid25")
    settings = {**SETTINGS, "num_samples": 500}

    values, protocol = score(centers.repeat(20, 1), "grid25", settings)

    assert sorted(values) == ["hq500", "modes500", "rkl500"]
    assert values["modes500"].higher_is_better
    assert values["hq500"].higher_is_better
    assert not values["rkl500"].higher_is_better
    assert protocol["reference"] == "grid25"
    assert protocol["num_modes"] == 25
    assert protocol["quality_stds"] == 3.0


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"num_samples": 0, "quality_stds": 3.0, "min_mode_samples": 20}, "num_samples"),
        ({"num_samples": 100, "quality_stds": -1, "min_mode_samples": 20}, "quality_stds"),
        ({"num_samples": 100, "quality_stds": 3.0}, "min_mode_samples"),
    ],
)
def test_invalid_settings_are_rejected(settings, message):
    with pytest.raises(ValueError, match=message):
        score(torch.zeros(100, 2), "ring8", settings)


def test_wrong_point_shape_is_rejected():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        score(torch.zeros(2500, 3), "ring8")
