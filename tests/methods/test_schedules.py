import math

import pytest

from nats.schedules import annealing_weights


@pytest.mark.parametrize("schedule", ["constant", "geometric", "linear", "cosine"])
@pytest.mark.parametrize("num_steps", [1, 2, 5, 15])
def test_every_schedule_has_mean_one(schedule, num_steps):
    weights = annealing_weights(schedule, num_steps, rho=0.1)
    assert len(weights) == num_steps
    assert math.isclose(sum(weights) / num_steps, 1.0, rel_tol=1e-12)


@pytest.mark.parametrize("schedule", ["geometric", "linear", "cosine"])
@pytest.mark.parametrize("rho", [0.1, 0.5, 1.0])
def test_last_weight_is_rho_times_first(schedule, rho):
    weights = annealing_weights(schedule, 15, rho=rho)
    assert math.isclose(weights[-1] / weights[0], rho, rel_tol=1e-12)


def test_geometric_weights_have_constant_ratio():
    weights = annealing_weights("geometric", 6, rho=0.1)
    ratios = [later / earlier for earlier, later in zip(weights, weights[1:])]
    for ratio in ratios:
        assert math.isclose(ratio, 0.1 ** (1 / 5), rel_tol=1e-12)


def test_constant_schedule_is_all_ones():
    assert annealing_weights("constant", 15, rho=0.1) == [1.0] * 15


@pytest.mark.parametrize("rho", [0.0, -0.5, 1.5])
def test_rho_outside_unit_interval_is_rejected(rho):
    with pytest.raises(ValueError, match="rho must lie in"):
        annealing_weights("geometric", 5, rho=rho)


def test_unknown_schedule_is_rejected():
    with pytest.raises(ValueError, match="unknown schedule 'exponential'"):
        annealing_weights("exponential", 5, rho=0.1)
