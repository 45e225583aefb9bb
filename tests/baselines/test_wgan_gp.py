import pytest
import torch
import torch.nn as nn

from baselines.wgan_gp import gradient_penalty, wgan_gp_spec
from nats.methods import build_method

from ..methods.conftest import tiny_settings


class LinearCritic(nn.Module):
    def __init__(self, weight):
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, x):
        return (x * self.weight).flatten(1).sum(1)


@pytest.mark.parametrize("channels", [1, 3])
def test_penalty_of_linear_critic_is_closed_form(channels):
    torch.manual_seed(channels)
    weight = torch.randn(channels, 5, 5) * 0.3
    critic = LinearCritic(weight)
    real, fake = torch.randn(2, 8, channels, 5, 5)
    penalty = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0), weight=10.0)
    expected = 10.0 * (weight.norm() - 1.0) ** 2
    torch.testing.assert_close(penalty, expected, rtol=1e-5, atol=1e-6)


def test_penalty_is_zero_for_unit_gradient():
    weight = torch.zeros(1, 2, 2)
    weight[0, 0, 0] = 1.0
    penalty = gradient_penalty(LinearCritic(weight), torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2), torch.Generator())
    assert penalty.item() == pytest.approx(0.0, abs=1e-10)


def test_penalty_gradient_reaches_critic_parameters():
    critic = LinearCritic(torch.full((1, 3, 3), 0.5))
    gradient_penalty(critic, torch.randn(4, 1, 3, 3), torch.randn(4, 1, 3, 3), torch.Generator()).backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


def test_penalty_rejects_mismatched_batches():
    with pytest.raises(ValueError, match="differ in shape"):
        gradient_penalty(LinearCritic(torch.ones(3)), torch.randn(4, 3), torch.randn(5, 3), torch.Generator())


def test_critic_with_batch_norm_is_rejected():
    with pytest.raises(ValueError, match="d_batch_norm: false"):
        wgan_gp_spec(tiny_settings("wgan-gp", d_batch_norm=True))


def test_wgan_gp_counts_n_dis_critic_steps_per_generator_step(digits):
    model = build_method(tiny_settings("wgan-gp"), digits, batch_size=8, seed=0, device=torch.device("cpu"))
    model.train(0.08)
    assert model.g_steps == 2
    assert model.d_steps == 5 * model.g_steps
    assert model.real_images_shown == 8 * model.d_steps


def test_penalty_ignores_enclosing_autocast():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(4 * 6 * 6, 1))
    output_dtypes = []
    critic.register_forward_hook(lambda _module, _inputs, output: output_dtypes.append(output.dtype))
    real, fake = torch.randn(2, 8, 1, 6, 6)

    expected = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        penalty = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0))

    assert penalty.dtype == torch.float32
    assert torch.equal(penalty, expected)
    assert output_dtypes == [torch.float32, torch.float32]
