import pytest
import torch

from nats.methods import build_method
from nats.methods.cfg import CompositeFunctionalGradientGAN, logistic_discriminator_loss

from .conftest import tiny_settings


def train_tiny(method, digits, cpu, budget_kimg=0.1, **extra):
    model = build_method(tiny_settings(method, **extra), digits, batch_size=16, seed=3, device=cpu)
    model.train(budget_kimg)
    return model


def assert_same_state(left, right):
    for key in ("approximator", "discriminator"):
        for name, tensor in left[key].items():
            assert torch.equal(tensor, right[key][name]), f"{key}.{name} differs"
    assert len(left["chain"]) == len(right["chain"])
    for snapshot_left, snapshot_right in zip(left["chain"], right["chain"]):
        for name, tensor in snapshot_left.items():
            assert torch.equal(tensor, snapshot_right[name]), f"snapshot {name} differs"


def test_annealed_cfg_with_constant_schedule_equals_cfg(digits, cpu):
    plain = train_tiny("cfg", digits, cpu)
    annealed = train_tiny("annealed-cfg", digits, cpu, schedule="constant")
    assert plain.stage == annealed.stage >= 2
    assert_same_state(plain.state_dict(), annealed.state_dict())
    for mode in ("refined", "generator"):
        assert torch.equal(plain.sample(20, seed=1, mode=mode), annealed.sample(20, seed=1, mode=mode))


def test_geometric_schedule_changes_the_result(digits, cpu):
    plain = train_tiny("cfg", digits, cpu)
    annealed = train_tiny("annealed-cfg", digits, cpu, schedule="geometric", rho=0.1)
    assert not torch.equal(plain.sample(20, seed=1), annealed.sample(20, seed=1))


def test_stage_counts_images_and_steps(digits, cpu):
    model = train_tiny("cfg", digits, cpu, budget_kimg=0.04)
    settings = model.settings
    # One stage: T * U discriminator updates on batches of 16 real images.
    assert model.stage == 1
    assert model.d_steps == settings["num_steps"] * settings["d_updates"]
    assert model.real_images_shown == model.d_steps * 16
    assert len(model.chain) == settings["num_steps"]


def test_refined_sample_applies_the_chain(digits, cpu):
    model = train_tiny("cfg", digits, cpu)
    generator_only = model.sample(10, seed=4, mode="generator")
    latents = torch.randn(10, model.settings["z_dim"], generator=torch.Generator().manual_seed(4))
    model.approximator.eval()
    with torch.no_grad():
        expected = model.chain.move(model.approximator(latents)).clamp(-1, 1)
    torch.testing.assert_close(model.sample(10, seed=4, mode="refined"), expected)
    assert not torch.equal(generator_only, expected)


def test_samples_do_not_depend_on_batch_size(digits, cpu):
    model = train_tiny("cfg", digits, cpu)
    torch.testing.assert_close(model.sample(30, seed=2, batch_size=7), model.sample(30, seed=2, batch_size=30))


def test_samples_are_clamped_images(digits, cpu):
    model = train_tiny("annealed-cfg", digits, cpu, eta=50.0)
    samples = model.sample(16, seed=0)
    assert samples.shape == (16, 1, 16, 16)
    assert samples.min() >= -1.0
    assert samples.max() <= 1.0


def test_state_dict_round_trip_restores_samples(digits, cpu):
    model = train_tiny("annealed-cfg", digits, cpu)
    restored = CompositeFunctionalGradientGAN(model.settings, digits, 16, seed=99, device=cpu)
    restored.load_state_dict(model.state_dict())
    assert restored.kimg == model.kimg
    assert torch.equal(restored.sample(12, seed=5), model.sample(12, seed=5))


def test_unknown_sample_mode_is_rejected(digits, cpu):
    model = train_tiny("cfg", digits, cpu, budget_kimg=0.01)
    with pytest.raises(ValueError, match="sample mode 'raw'"):
        model.sample(4, seed=0, mode="raw")


def test_logistic_loss_optimum_is_log_density_ratio():
    # For p_real = 0.8 and p_gen = 0.2 at a point, the pointwise loss
    # 0.8 * softplus(-d) + 0.2 * softplus(d) is minimised at d = ln(0.8 / 0.2).
    scores = torch.linspace(-3, 3, 60001)
    losses = 0.8 * torch.nn.functional.softplus(-scores) + 0.2 * torch.nn.functional.softplus(scores)
    best = scores[losses.argmin()]
    assert abs(best.item() - torch.log(torch.tensor(4.0)).item()) < 1e-3
    assert logistic_discriminator_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(2 * torch.log(torch.tensor(2.0)).item())


def test_cfg_learns_ring_modes(ring8, cpu):
    settings = tiny_settings("cfg", "ring8", g_width=64, d_width=64, g_batch_norm=False, eta=0.25)
    model = build_method(settings, ring8, batch_size=64, seed=0, device=cpu)
    before = model.sample(500, seed=0, mode="refined")
    model.train(3.0)
    after = model.sample(500, seed=0, mode="refined")
    radius_error_before = (before.norm(dim=1) - 2.0).abs().mean()
    radius_error_after = (after.norm(dim=1) - 2.0).abs().mean()
    assert radius_error_after < 0.5 * radius_error_before
