"""NATS: the nested annealed training scheme around a host GAN.

Our reconstruction of the scheme of Wan et al. (arXiv 2501.11318); the
paper's full text was not available, so every choice is a setting. One
outer iteration:

    z ~ N(0, I) (one batch);  x_0 = G(z), detached
    for t = 1..T:                      # annealing levels
        repeat U times: update D with the host's D loss and regulariser,
                        a real batch against the current particles x_{t-1}
        x_t = x_{t-1} - eta * lambda_t * grad_x l_G(D(x_{t-1}))
    update G by K steps of ||G(z) - x_T||^2 / 2 / batch with the host's G optimizer

``l_G`` is the host's per-sample G loss, so for hinge and Wasserstein hosts
the particles move along +grad D, as in CFG.

With bf16 on, only the D updates run under autocast. x_0 = G(z), the
particle moves and the regression of G stay in float32. The regression
fits G(z) to x_T = x_0 + (sum of the moves), and a bfloat16 G(z) would add
rounding noise of about 2% of one level's move (median 7e-4 against 0.03
per pixel for nats-sngan on 16x16 digits after 20 kimg).

With K = 1 the regression gradient equals eta times the gradient of
``mean_i sum_t lambda_t * l_G(D_t(G(z_i) + stopgrad(x_{t-1,i} - x_{0,i})))``,
where D_t is D as it was at level t: the host's G loss summed over the
levels with the annealed weights, evaluated where the particles were.
``tests/methods/test_nats.py`` checks this equivalence.

The host's ``g_batch_multiplier`` m enlarges the particle batch to m times
the real batch: every D update sees the first ``batch_size`` particles as
its fake batch, every particle moves, and G regresses on all of them. So
D batches stay as in the host and the G step sees m times as many latents,
as in the host's own G step. The host's ``lr_decay`` applies to both
optimizers, as in the host.
"""

import torch

from baselines.host import HostGANMethod, HostSpec
from nats.data import TrainingSet
from nats.functional_gradient import functional_gradient_step
from nats.gpus import Performance, autocast_disabled
from nats.methods.base import ProgressCallback
from nats.methods.cfg import regression_loss
from nats.schedules import annealing_weights


class NestedAnnealedTraining(HostGANMethod):
    """Train a host GAN's networks, losses and optimizers the NATS way.

    Args:
        spec: the host GAN.
        settings: host settings plus ``eta``, ``schedule``, ``rho``,
            ``num_levels`` (T), ``d_updates`` (U), ``g_regression_steps`` (K)
            and ``grad_normalised``.
        training_set: real data on ``device``.
        batch_size: size of every real batch and of D's fake batch; the
            particle batch is ``batch_size * spec.g_batch_multiplier``.
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
        super().__init__(spec, settings, training_set, batch_size, seed, device, performance)
        self.weights = annealing_weights(settings["schedule"], settings["num_levels"], settings["rho"])

    def move_particles(self, particles: torch.Tensor, level: int) -> torch.Tensor:
        """Move ``particles`` one step down the host's G loss of the current D."""
        step_size = self.settings["eta"] * self.weights[level]
        return functional_gradient_step(
            particles,
            self.discriminator,
            step_size,
            self.spec.generator_loss,
            self.settings["grad_normalised"],
            forward=self.performance.forward(self.discriminator),
        )

    def regress_generator(self, latents: torch.Tensor, targets: torch.Tensor) -> float:
        """Take one G step on ``||G(z) - targets||^2 / 2 / batch`` with the host's G optimizer, in float32."""
        # Backward stays in the float32 region too: under an enabled autocast it would recast the matrix products.
        with autocast_disabled(latents.device.type):
            loss = regression_loss(self.performance.forward(self.generator)(latents), targets)
            self.generator_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.decay_learning_rate(self.generator_optimizer, self.spec.lr_g)
            self.generator_optimizer.step()
        self.g_steps += 1
        return loss.item()

    def outer_iteration(self) -> dict[str, float]:
        """Run one outer iteration and return its diagnostics."""
        latents = self.latents(self.generator_batch_size)
        with torch.no_grad(), autocast_disabled(latents.device.type):
            particles = self.performance.forward(self.generator)(latents)
        for level in range(len(self.weights)):
            for _ in range(self.settings["d_updates"]):
                parts = self.update_discriminator(particles[: self.batch_size])
            particles = self.move_particles(particles, level)
        for _ in range(self.settings["g_regression_steps"]):
            parts["g_regression_loss"] = self.regress_generator(latents, particles)
        return parts

    def train(self, budget_kimg: float, on_progress: ProgressCallback | None = None) -> None:
        self.budget_kimg = budget_kimg
        while self.kimg < budget_kimg:
            parts = self.outer_iteration()
            self.check_finite(parts)
            if on_progress is not None:
                on_progress(self.progress(parts))
