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
        batch_size: size of every real and fake batch.
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

    def latents(self, num_samples: int) -> torch.Tensor:
        return draw_latents(num_samples, self.settings["z_dim"], self.rng, self.device)

    def update_discriminator(self, fake: torch.Tensor) -> dict[str, float]:
        """Take one D step with the host's loss and regulariser, a fresh real batch against ``fake``."""
        real = self.performance.format_batch(self.real_batches.next())
        loss, parts = self.spec.total_discriminator_loss(self.discriminator, real, fake.detach(), self.rng, self.performance)
        self.discriminator_optimizer.zero_grad(set_to_none=True)
        loss.backward()
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
