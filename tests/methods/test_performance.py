"""Performance options: no-ops on a CPU, float32 where bf16 is unsafe, loadable compiled checkpoints.

``Performance.for_device`` turns every option off on a CPU; the tests that
exercise an option on a CPU build ``Performance`` directly.
"""

import copy

import pytest
import torch

from nats.functional_gradient import functional_gradient_step
from nats.gpus import Performance
from nats.methods import build_method

from .conftest import tiny_settings

METHODS = ["cfg", "annealed-cfg", "wgan-gp", "sngan", "nats-wgan-gp", "nats-sngan"]
ALL_OPTIONS = {"bf16": True, "channels_last": True, "tf32": True, "compile": True}


def build(method, digits, performance=None, **extra):
    return build_method(tiny_settings(method, **extra), digits, batch_size=8, seed=2, device=torch.device("cpu"), performance=performance)


def train(model, kimg=0.1) -> list[dict]:
    log = []
    model.train(kimg, lambda progress: log.append(progress.losses))
    return log


def assert_states_equal(left, right, path="state"):
    if isinstance(left, dict):
        assert left.keys() == right.keys(), path
        for key in left:
            assert_states_equal(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, (list, tuple)):
        assert len(left) == len(right), path
        for index, (a, b) in enumerate(zip(left, right)):
            assert_states_equal(a, b, f"{path}[{index}]")
    elif isinstance(left, torch.Tensor):
        assert torch.equal(left, right), f"{path} differs"
    else:
        assert left == right, f"{path}: {left!r} != {right!r}"


def record_output_dtypes(module: torch.nn.Module) -> list[torch.dtype]:
    dtypes = []
    module.register_forward_hook(lambda _module, _inputs, output: dtypes.append(output.dtype))
    return dtypes


def state_keys(state) -> list[str]:
    if isinstance(state, dict):
        return [f"{key}.{inner}" for key, value in state.items() for inner in state_keys(value)] + [str(key) for key in state]
    if isinstance(state, list):
        return [key for item in state for key in state_keys(item)]
    return []


@pytest.mark.parametrize("method", METHODS)
def test_options_change_nothing_on_cpu(digits, method):
    performance = Performance.for_device(ALL_OPTIONS, torch.device("cpu"))
    plain = build(method, digits)
    optioned = build(method, digits, performance)

    assert train(optioned) == train(plain)
    assert_states_equal(optioned.state_dict(), plain.state_dict())
    assert torch.equal(optioned.sample(16, seed=5), plain.sample(16, seed=5))


def test_functional_step_ignores_enclosing_autocast(digits):
    model = build("nats-sngan", digits)
    train(model, 0.05)
    dtypes = record_output_dtypes(model.discriminator)
    particles = model.latents(8)
    with torch.no_grad():
        particles = model.generator(particles)

    expected = functional_gradient_step(particles, model.discriminator, 0.5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        moved = functional_gradient_step(particles, model.discriminator, 0.5)

    assert moved.dtype == torch.float32
    assert torch.equal(moved, expected)
    assert dtypes == [torch.float32, torch.float32]


def test_cfg_regression_ignores_enclosing_autocast(digits):
    model = build("cfg", digits)
    train(model, 0.05)
    latents = model._latents(32)
    targets = model._generate_moved(latents, model.chain)
    twin = copy.deepcopy(model)
    dtypes = record_output_dtypes(twin.approximator)

    expected = model.fit_approximator(latents, targets, epochs=2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = twin.fit_approximator(latents, targets, epochs=2)

    assert loss == expected
    assert_states_equal(twin.approximator.state_dict(), model.approximator.state_dict())
    assert set(dtypes) == {torch.float32}


def test_nats_regression_ignores_enclosing_autocast(digits):
    model = build("nats-wgan-gp", digits)
    latents = model.latents(8)
    targets = torch.rand(8, *digits.sample_shape) * 2 - 1
    twin = copy.deepcopy(model)

    expected = model.regress_generator(latents, targets)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = twin.regress_generator(latents, targets)

    assert loss == expected
    assert_states_equal(twin.generator.state_dict(), model.generator.state_dict())


@pytest.mark.parametrize("method", ["wgan-gp", "nats-wgan-gp", "cfg"])
def test_bf16_autocast_reaches_discriminator_updates(digits, method):
    model = build(method, digits, Performance("cpu", bf16=True))
    dtypes = record_output_dtypes(model.discriminator)

    log = train(model, 0.05)

    assert torch.bfloat16 in dtypes
    assert all(value == value for entry in log for value in entry.values())
    if method != "wgan-gp":
        # Functional-gradient steps are the float32 calls of D (the gradient penalty, a separate call site, is tested alone).
        assert torch.float32 in dtypes


def test_bf16_leaves_gradient_penalty_in_float32(digits):
    model = build("wgan-gp", digits, Performance("cpu", bf16=True))
    real = model.real_batches.next()
    with torch.no_grad():
        fake = model.generator(model.latents(8))
    dtypes = record_output_dtypes(model.discriminator)

    _, parts = model.spec.total_discriminator_loss(model.discriminator, real, fake, torch.Generator().manual_seed(0), model.performance)
    _, plain_parts = model.spec.total_discriminator_loss(model.discriminator, real, fake, torch.Generator().manual_seed(0))

    assert dtypes[:2] == [torch.bfloat16, torch.bfloat16]
    assert dtypes[2] == torch.float32
    assert parts["d_penalty"] == plain_parts["d_penalty"]


@pytest.mark.parametrize("method", ["sngan", "annealed-cfg"])
def test_channels_last_keeps_numbers_close(digits, method):
    plain = build(method, digits)
    channels_last = build(method, digits, Performance("cpu", channels_last=True))
    first_conv = next(module for module in channels_last.discriminator.modules() if isinstance(module, torch.nn.Conv2d))

    plain_log = train(plain, 0.01)
    channels_last_log = train(channels_last, 0.01)

    assert first_conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert channels_last_log[0].keys() == plain_log[0].keys()
    for key, value in plain_log[0].items():
        assert channels_last_log[0][key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


@pytest.mark.parametrize("method", ["wgan-gp", "nats-sngan", "annealed-cfg"])
def test_compiled_training_checkpoint_loads_into_plain_method(digits, tmp_path, method):
    torch._dynamo.reset()
    compiled = build(method, digits, Performance("cpu", compile=True, compile_backend="aot_eager"))
    train(compiled, 0.05)
    path = tmp_path / "checkpoint.pt"
    torch.save(compiled.state_dict(), path)

    plain = build(method, digits)
    plain.load_state_dict(torch.load(path, weights_only=False))

    assert type(compiled.performance.forward(compiled.discriminator)).__name__ == "OptimizedModule"
    assert not [key for key in state_keys(compiled.state_dict()) if "_orig_mod" in key]
    assert torch.equal(plain.sample(16, seed=1, mode="generator"), compiled.sample(16, seed=1, mode="generator"))
