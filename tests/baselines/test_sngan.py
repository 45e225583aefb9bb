import torch
from torch.nn.utils import parametrize

from baselines.sngan import hinge_discriminator_loss
from nats.methods import build_method

from ..methods.conftest import tiny_settings


def spectrally_normalised_layers(module):
    return [layer for layer in module.modules() if parametrize.is_parametrized(layer, "weight")]


def test_every_discriminator_layer_is_spectrally_normalised(digits):
    model = build_method(tiny_settings("sngan"), digits, batch_size=8, seed=0, device=torch.device("cpu"))
    weighted = [layer for layer in model.discriminator.modules() if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear))]
    assert weighted
    assert spectrally_normalised_layers(model.discriminator) == weighted


def test_top_singular_value_is_one_after_warm_up(digits):
    model = build_method(tiny_settings("sngan"), digits, batch_size=8, seed=0, device=torch.device("cpu"))
    model.train(0.5)

    # Warm-up: forward passes in training mode run the power iteration on
    # the trained weights without changing them.
    with torch.no_grad():
        for _ in range(30):
            model.discriminator(digits.samples[:8])
    model.discriminator.eval()
    for layer in spectrally_normalised_layers(model.discriminator):
        matrix = layer.weight.detach().flatten(1)
        top = torch.linalg.matrix_norm(matrix, ord=2).item()
        assert abs(top - 1.0) < 0.05, f"{layer}: top singular value {top:.3f}"


def test_hinge_loss_is_zero_beyond_the_margins():
    assert hinge_discriminator_loss(torch.full((4,), 2.0), torch.full((4,), -3.0)).item() == 0.0
    assert hinge_discriminator_loss(torch.zeros(4), torch.zeros(4)).item() == 2.0
