"""One optimisation step of every method on every paper architecture, on the CPU."""

import pytest
import torch

from nats.data import TrainingSet
from nats.methods import METHOD_HOSTS, build_method
from nats.networks import ARCHITECTURES

from ..methods.conftest import tiny_settings

BATCH_SIZE = 4
# Tiny nets and stages; sngan-resnet at 48x48 needs g_width divisible by 8
# and d_width by 16.
TINY_NETWORKS = {"z_dim": 8, "g_width": 16, "d_width": 16}
TINY_CFG_STAGE = {"num_steps": 2, "num_targets": 8, "approx_epochs": 1, "init_fit_steps": 1}

CASES = [
    pytest.param(method, name, resolution, id=f"{method}-{name}-{resolution}")
    for name in ARCHITECTURES
    if name != "auto"
    for resolution in ARCHITECTURES[name].resolutions
    for method in METHOD_HOSTS
]


def synthetic_images(resolution: int, channels: int = 3, count: int = 16) -> TrainingSet:
    samples = torch.rand(count, channels, resolution, resolution, generator=torch.Generator().manual_seed(1)) * 2 - 1
    return TrainingSet("synthetic", "image", samples, {"resolution": resolution})


def trained_networks(model) -> tuple[torch.nn.Module, torch.nn.Module]:
    generator = model.approximator if hasattr(model, "approximator") else model.generator
    return generator, model.discriminator


def parameter_copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in module.named_parameters()}


def changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> bool:
    return any(not torch.equal(before[name], tensor) for name, tensor in module.named_parameters())


@pytest.mark.parametrize(("method", "name", "resolution"), CASES)
def test_one_step_updates_both_networks(method, name, resolution, cpu):
    settings = tiny_settings(method, **TINY_NETWORKS, **(TINY_CFG_STAGE if "cfg" in method else {}))
    settings["architecture"] = name
    training_set = synthetic_images(resolution)
    model = build_method(settings, training_set, batch_size=BATCH_SIZE, seed=0, device=cpu)
    generator, discriminator = trained_networks(model)
    generator_before = parameter_copy(generator)
    discriminator_before = parameter_copy(discriminator)

    # One image of budget: the method stops after its first iteration.
    model.train(0.001)

    assert model.d_steps >= 1
    assert model.g_steps >= 1
    assert changed(generator_before, generator)
    assert changed(discriminator_before, discriminator)

    samples = model.sample(3, seed=0, batch_size=2)
    assert samples.shape == (3, 3, resolution, resolution)
    assert torch.isfinite(samples).all()
    assert samples.abs().max().item() <= 1.0
