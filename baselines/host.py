"""The host GAN spec: everything NATS needs to know about a GAN it wraps."""

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

from nats.data import RealBatches, TrainingSet
from nats.gpus import Performance
from nats.methods.base import Method, draw_latents, generate_in_batches, load_network_state
from nats.methods.errors import TrainingDiverged
from nats.networks import build_networks

DiscriminatorLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Regulariser = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]

LR_DECAYS = ("none", "linear")


def learning_rate_scale(lr_decay: str, kimg: float, budget_kimg: float) -> float:
    """Return the factor on the initial learning rate at ``kimg`` of a ``budget_kimg`` run.

    Args:
        lr_decay: ``"none"`` (always 1) or ``"linear"`` (``1 - kimg / budget_kimg``,
            clamped at 0 because the last iteration may end past the budget).
        kimg: thousands of real samples shown to D so far.
        budget_kimg: training length passed to ``Method.train``.

    Returns:
        The factor, in [0, 1].

    Raises:
        ValueError: for an unknown ``lr_decay``.
    """
    if lr_decay == "none":
        return 1.0
    if lr_decay == "linear":
        return max(0.0, 1.0 - kimg / budget_kimg)
    raise ValueError(f"unknown lr_decay {lr_decay!r}; expected one of {', '.join(LR_DECAYS)}")


def recipe_settings(settings: dict) -> tuple[int, str]:
    """Read and check ``(g_batch_multiplier, lr_decay)`` from method settings.

    Settings built without these keys get the defaults 1 and ``"none"``.

    Raises:
        ValueError: for a multiplier that is not an integer >= 1 or an unknown decay.
    """
    multiplier = settings.get("g_batch_multiplier", 1)
    if isinstance(multiplier, bool) or not isinstance(multiplier, int) or multiplier < 1:
        raise ValueError(f"g_batch_multiplier must be an integer >= 1, got {multiplier!r}")
    lr_decay = settings.get("lr_decay", "none")
    if lr_decay not in LR_DECAYS:
        raise ValueError(f"unknown lr_decay {lr_decay!r}; expected one of {', '.join(LR_DECAYS)}")
    return multiplier, lr_decay


@dataclass
class HostSpec:
    """A GAN described by its parts rather than by a training loop.

    Attributes:
        name: host name, e.g. ``"sngan"``.
        discriminator_loss: scalar D loss from D outputs on real and fake batches.
        generator_loss: per-sample G loss l_G of D outputs on fakes.
        regulariser: optional extra D loss from (D, real, fake, generator),
            e.g. the gradient penalty.
        spectral_norm: whether every D layer is spectrally normalised.
        n_dis: D steps per G step in standard alternating training.
        lr_d: Adam learning rate of D.
        lr_g: Adam learning rate of G.
        betas: Adam betas of both optimizers.
        g_batch_multiplier: the G step draws ``batch_size * g_batch_multiplier``
            latents (2 in the SNGAN and WGAN-GP CIFAR-10 recipes).
        lr_decay: ``"none"``, or ``"linear"`` to decay both learning rates
            to zero at the training budget.
    """

    name: str
    discriminator_loss: DiscriminatorLoss
    generator_loss: Callable[[torch.Tensor], torch.Tensor]
    regulariser: Regulariser | None
    spectral_norm: bool
    n_dis: int
    lr_d: float
    lr_g: float
    betas: tuple[float, float]
    g_batch_multiplier: int = 1
    lr_decay: str = "none"

    def build_networks(self, settings: dict, training_set: TrainingSet) -> tuple[nn.Module, nn.Module]:
        return build_networks(settings, training_set, spectral_norm=self.spectral_norm)

    def make_optimizers(self, generator: nn.Module, discriminator: nn.Module) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        """Return ``(generator_optimizer, discriminator_optimizer)``."""
        generator_optimizer = torch.optim.Adam(generator.parameters(), lr=self.lr_g, betas=self.betas)
        discriminator_optimizer = torch.optim.Adam(discriminator.parameters(), lr=self.lr_d, betas=self.betas)
        return generator_optimizer, discriminator_optimizer

    def total_discriminator_loss(
        self,
        discriminator: nn.Module,
        real: torch.Tensor,
        fake: torch.Tensor,
        generator: torch.Generator,
        performance: Performance | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Return the D loss with its regulariser, and its parts for logging.

        The D forward passes run under the autocast of ``performance``. The
        loss is computed in float32, and the regulariser in float32 on the
        plain D.

        Args:
            discriminator: D.
            real: a real batch.
            fake: a fake batch, detached.
            generator: random source of the regulariser.
            performance: autocast and compile options; ``None`` turns them off.
        """
        performance = performance or Performance(real.device)
        forward = performance.forward(discriminator)
        with performance.autocast():
            scores_real = forward(real)
            scores_fake = forward(fake)
        scores_real, scores_fake = scores_real.float(), scores_fake.float()
        loss = self.discriminator_loss(scores_real, scores_fake)
        parts = {
            "d_loss": loss.item(),
            "d_real": scores_real.mean().item(),
            "d_fake": scores_fake.mean().item(),
        }
        if self.regulariser is not None:
            penalty = self.regulariser(discriminator, real, fake, generator)
            parts["d_penalty"] = penalty.item()
            loss = loss + penalty
        return loss, parts


class HostGANMethod(Method):
    """Shared state of every method that trains a host spec's G and D.

    Subclasses add the training loop: ``AlternatingGAN`` the standard one,
    ``NestedAnnealedTraining`` the NATS one.

    Args:
        spec: the host GAN.
        settings: method settings (networks, optimizers, n_dis, ...).
        training_set: real data on ``device``.
        batch_size: size of every real batch and of every fake batch of D;
            the G step draws ``batch_size * spec.g_batch_multiplier`` latents.
        seed: seed of initialisation, latents and data order.
        device: where the networks live.
        performance: bf16 autocast, channels-last and compile options;
            ``None`` turns them all off.
    """

    def __init__(
        self,
        spec: HostSpec,
        settings: dict,
        training_set: TrainingSet,
        batch_size: int,
        seed: int,
        device: torch.device,
        performance: Performance | None = None,
    ):
        super().__init__(settings, training_set, batch_size, seed, device, performance)
        self.spec = spec
        self.generator, self.discriminator = spec.build_networks(settings, training_set)
        self.performance.prepare_network(self.generator.to(device))
        self.performance.prepare_network(self.discriminator.to(device))
        self.generator_optimizer, self.discriminator_optimizer = spec.make_optimizers(self.generator, self.discriminator)
        self.real_batches = RealBatches(training_set, batch_size, self.rng)
        self.budget_kimg: float | None = None

    @property
    def generator_batch_size(self) -> int:
        """Number of latents of one G step."""
        return self.batch_size * self.spec.g_batch_multiplier

    def decay_learning_rate(self, optimizer: torch.optim.Optimizer, initial_lr: float) -> None:
        """Set ``optimizer``'s learning rate from the current kimg and the host's ``lr_decay``.

        Called before every optimizer step, so the rate depends only on the
        kimg counter and the budget, which makes a resumed run take the
        same steps as a straight one.

        NOTE: a finished run extended to a larger budget raises the rate
        again, so it does not match a run trained to that budget from the start.
        """
        if self.spec.lr_decay == "none":
            return
        if self.budget_kimg is None:
            raise RuntimeError("lr_decay needs the budget: call train(budget_kimg) before an optimizer step")
        lr = initial_lr * learning_rate_scale(self.spec.lr_decay, self.kimg, self.budget_kimg)
        for group in optimizer.param_groups:
            group["lr"] = lr

    def latents(self, num_samples: int) -> torch.Tensor:
        return draw_latents(num_samples, self.settings["z_dim"], self.rng, self.device)

    def update_discriminator(self, fake: torch.Tensor) -> dict[str, float]:
        """Take one D step with the host's loss and regulariser, a fresh real batch against ``fake``."""
        real = self.performance.format_batch(self.real_batches.next())
        loss, parts = self.spec.total_discriminator_loss(self.discriminator, real, fake.detach(), self.rng, self.performance)
        self.discriminator_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.decay_learning_rate(self.discriminator_optimizer, self.spec.lr_d)
        self.discriminator_optimizer.step()
        self.real_images_shown += real.shape[0]
        self.d_steps += 1
        return parts

    def check_finite(self, parts: dict[str, float]) -> None:
        if not all(math.isfinite(value) for value in parts.values()):
            raise TrainingDiverged(f"{type(self).__name__}({self.spec.name}): non-finite loss at {self.kimg:.2f} kimg: {parts}")

    def sample(self, num_samples: int, seed: int, mode: str | None = None, batch_size: int = 500) -> torch.Tensor:
        self.check_sample_mode(mode)
        latents = draw_latents(num_samples, self.settings["z_dim"], torch.Generator().manual_seed(seed), self.device)
        return self.finish_samples(generate_in_batches(self.generator, latents, batch_size))

    def state_dict(self) -> dict:
        return {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "generator_optimizer": self.generator_optimizer.state_dict(),
            "discriminator_optimizer": self.discriminator_optimizer.state_dict(),
            "real_batches": self.real_batches.state_dict(),
            "rng": self.rng.get_state(),
            "counters": self.counters(),
        }

    def load_state_dict(self, state: dict) -> None:
        load_network_state(self.generator, state["generator"])
        load_network_state(self.discriminator, state["discriminator"])
        self.generator_optimizer.load_state_dict(state["generator_optimizer"])
        self.discriminator_optimizer.load_state_dict(state["discriminator_optimizer"])
        self.real_batches.load_state_dict(state["real_batches"])
        self.rng.set_state(state["rng"])
        self.load_counters(state["counters"])
