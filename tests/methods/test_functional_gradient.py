import torch
import torch.nn as nn

from nats.functional_gradient import DiscriminatorChain, functional_gradient_step


class QuadraticCritic(nn.Module):
    """D(x) = <w, x> - 0.5 * a * ||x||^2, whose gradient is w - a * x."""

    def __init__(self, shape, a=0.3):
        super().__init__()
        self.w = nn.Parameter(torch.linspace(-1, 1, int(torch.tensor(shape).prod())).view(shape))
        self.a = a

    def forward(self, x):
        flat = x.flatten(1)
        return flat @ self.w.flatten() - 0.5 * self.a * flat.pow(2).sum(1)


def test_cfg_step_moves_along_discriminator_gradient():
    torch.manual_seed(0)
    critic = QuadraticCritic((1, 4, 4))
    x = torch.randn(5, 1, 4, 4)
    moved = functional_gradient_step(x, critic, step_size=0.25)
    expected = x + 0.25 * (critic.w.detach() - critic.a * x)
    torch.testing.assert_close(moved, expected, rtol=0, atol=1e-6)


def test_cfg_step_matches_autograd_of_a_network():
    torch.manual_seed(0)
    discriminator = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 1))
    x = torch.randn(7, 1, 4, 4)
    gradient = torch.func.vmap(torch.func.grad(lambda sample: discriminator(sample.unsqueeze(0)).sum()))(x)
    wrapped = nn.Sequential(discriminator, nn.Flatten(0))
    moved = functional_gradient_step(x, wrapped, step_size=0.5)
    torch.testing.assert_close(moved, x + 0.5 * gradient, rtol=1e-6, atol=1e-6)


def test_step_leaves_discriminator_gradients_untouched():
    critic = QuadraticCritic((3,))
    functional_gradient_step(torch.randn(4, 3), critic, step_size=1.0)
    assert critic.w.grad is None


def test_step_with_batch_norm_does_not_depend_on_batch():
    torch.manual_seed(0)
    discriminator = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 1), nn.Flatten(0))
    discriminator(torch.randn(32, 3))
    x = torch.randn(8, 3)
    whole = functional_gradient_step(x, discriminator, step_size=0.1)
    halves = torch.cat([functional_gradient_step(part, discriminator, step_size=0.1) for part in x.split(4)])
    torch.testing.assert_close(whole, halves)
    assert discriminator.training


def test_grad_normalised_step_has_unit_mean_norm():
    critic = QuadraticCritic((2,), a=0.0)
    x = torch.zeros(10, 2)
    moved = functional_gradient_step(x, critic, step_size=1.0, grad_normalised=True)
    assert torch.isclose(moved.norm(dim=1).mean(), torch.tensor(1.0))


def test_chain_applies_weighted_steps_in_order():
    critics = [QuadraticCritic((2,), a=0.5) for _ in range(3)]
    chain = DiscriminatorChain(eta=0.4, weights=[1.5, 1.0, 0.5])
    for critic in critics:
        chain.append(critic)
    x = torch.randn(4, 2)
    expected = x.clone()
    for critic, weight in zip(critics, [1.5, 1.0, 0.5]):
        expected = expected + 0.4 * weight * (critic.w.detach() - 0.5 * expected)
    torch.testing.assert_close(chain.move(x), expected)


def test_chain_snapshot_is_frozen_copy():
    critic = QuadraticCritic((2,))
    chain = DiscriminatorChain(eta=1.0, weights=[1.0])
    chain.append(critic)
    with torch.no_grad():
        critic.w.add_(10.0)
    assert not torch.equal(chain.snapshots[0].w, critic.w)
