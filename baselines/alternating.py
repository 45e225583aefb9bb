"""Standard alternating GAN training of a host spec: n_dis D steps, then one G step."""

import torch

from baselines.host import HostGANMethod
from nats.methods.base import ProgressCallback


class AlternatingGAN(HostGANMethod):
    """Train a host GAN the way its paper does."""

    def generator_step(self) -> float:
        """Take one G optimizer step on the host's mean generator loss over ``generator_batch_size`` latents."""
        generator = self.performance.forward(self.generator)
        discriminator = self.performance.forward(self.discriminator)
        with self.performance.autocast():
            scores = discriminator(generator(self.latents(self.generator_batch_size)))
        loss = self.spec.generator_loss(scores.float()).mean()
        self.generator_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.decay_learning_rate(self.generator_optimizer, self.spec.lr_g)
        self.generator_optimizer.step()
        self.g_steps += 1
        return loss.item()

    def train(self, budget_kimg: float, on_progress: ProgressCallback | None = None) -> None:
        self.budget_kimg = budget_kimg
        while self.kimg < budget_kimg:
            for _ in range(self.spec.n_dis):
                with torch.no_grad(), self.performance.autocast():
                    fake = self.performance.forward(self.generator)(self.latents(self.batch_size))
                parts = self.update_discriminator(fake.float())
            parts["g_loss"] = self.generator_step()

            self.check_finite(parts)
            if on_progress is not None:
                on_progress(self.progress(parts))
