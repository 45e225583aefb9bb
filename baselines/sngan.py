"""SNGAN (Miyato et al. 2018), unconditional: hinge loss and spectral norm."""

import torch
import torch.nn.functional as F

from baselines.host import HostSpec, recipe_settings


def hinge_discriminator_loss(scores_real: torch.Tensor, scores_fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - scores_real).mean() + F.relu(1.0 + scores_fake).mean()


def hinge_generator_loss(scores_fake: torch.Tensor) -> torch.Tensor:
    return -scores_fake


def sngan_spec(settings: dict) -> HostSpec:
    """Build the SNGAN host from method settings."""
    g_batch_multiplier, lr_decay = recipe_settings(settings)
    return HostSpec(
        name="sngan",
        discriminator_loss=hinge_discriminator_loss,
        generator_loss=hinge_generator_loss,
        regulariser=None,
        spectral_norm=True,
        n_dis=settings["n_dis"],
        lr_d=settings["lr_d"],
        lr_g=settings["lr_g"],
        betas=(settings["beta1"], settings["beta2"]),
        g_batch_multiplier=g_batch_multiplier,
        lr_decay=lr_decay,
    )
