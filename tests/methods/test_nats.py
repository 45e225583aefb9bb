import copy

import pytest
import torch

from nats.methods import build_method
from nats.methods.cfg import regression_loss

from .conftest import tiny_settings


def build(method, digits, cpu, **extra):
    return build_method(tiny_settings(method, **extra), digits, batch_size=8, seed=1, device=cpu)


def generator_gradient(model):
    return torch.cat([parameter.grad.flatten() for parameter in model.generator.parameters()])


@pytest.mark.parametrize("host", ["sngan", "wgan-gp"])
@pytest.mark.parametrize("schedule", ["geometric", "constant"])
def test_regression_gradient_equals_weighted_host_loss_gradient(digits, cpu, host, schedule):
    model = build(f"nats-{host}", digits, cpu, schedule=schedule, rho=0.2, eta=0.3, num_levels=4)
    model.generator.eval()

    # Run the levels of one outer iteration by hand, keeping D as it was at each level.
    latents = model.latents(model.batch_size)
    with torch.no_grad():
        start = model.generator(latents)
    particles = start
    levels = []
    for level in range(len(model.weights)):
        model.update_discriminator(particles)
        levels.append((copy.deepcopy(model.discriminator), particles))
        particles = model.move_particles(particles, level)

    model.generator.zero_grad()
    regression_loss(model.generator(latents), particles).backward()
    from_regression = generator_gradient(model)

    model.generator.zero_grad()
    outputs = model.generator(latents)
    weighted = 0.0
    for level, (discriminator, particles_before) in enumerate(levels):
        displaced = outputs + (particles_before - start).detach()
        discriminator.eval()
        weighted = weighted + model.weights[level] * model.spec.generator_loss(discriminator(displaced)).mean()
    (model.settings["eta"] * weighted).backward()
    from_host_loss = generator_gradient(model)

    torch.testing.assert_close(from_regression, from_host_loss, rtol=1e-4, atol=1e-7)


def test_outer_iteration_matches_its_parts(digits, cpu):
    model = build("nats-sngan", digits, cpu)
    twin = copy.deepcopy(model)

    model.outer_iteration()

    latents = twin.latents(twin.batch_size)
    with torch.no_grad():
        particles = twin.generator(latents)
    for level in range(len(twin.weights)):
        twin.update_discriminator(particles)
        particles = twin.move_particles(particles, level)
    twin.regress_generator(latents, particles)

    for name, tensor in model.generator.state_dict().items():
        assert torch.equal(tensor, twin.generator.state_dict()[name]), name
    assert model.d_steps == twin.d_steps == len(model.weights)
    assert model.g_steps == twin.g_steps == 1


def test_levels_default_to_host_n_dis():
    assert tiny_settings("nats-sngan")["num_levels"] == 5
    assert tiny_settings("nats-wgan-gp", n_dis=3)["num_levels"] == 3


def test_hinge_host_particles_move_up_the_discriminator(digits, cpu):
    model = build("nats-sngan", digits, cpu, eta=0.05)
    particles = torch.zeros(4, 1, 16, 16)
    moved = model.move_particles(particles, 0)
    model.discriminator.eval()
    with torch.no_grad():
        assert (model.discriminator(moved) > model.discriminator(particles)).all()


def test_nats_training_is_deterministic(digits, cpu):
    first = build("nats-wgan-gp", digits, cpu)
    second = build("nats-wgan-gp", digits, cpu)
    first.train(0.1)
    second.train(0.1)
    assert torch.equal(first.sample(10, seed=0), second.sample(10, seed=0))
