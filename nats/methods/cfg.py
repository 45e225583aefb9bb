"""xICFG (Johnson & Zhang, ICML 2018) and its annealed variant.

One stage of xICFG:

1. For t = 1..T, update D U times on real batches against fakes made by
   the approximator G~ followed by the steps of the snapshots D_1..D_{t-1}
   taken so far in this stage; then store a snapshot D_t. D itself is never
   re-initialised.
2. Make N targets: G~(z) moved through all T snapshots.
3. Regress G~ onto the targets with ``sum ||G~(z) - target||^2 / 2 / batch``,
   warm-started, with a fresh optimizer, for ``approx_epochs`` epochs;
   multiply the learning rate by 0.1 when an epoch's mean loss rises (at
   most ``approx_lr_cuts`` times).

Step t moves samples by ``eta * lambda_t * grad_x D_t(x)``. With the
``constant`` schedule every lambda is 1 and this is CFG; other schedules are
annealed CFG, our reconstruction of the NATS paper's first contribution.

Choices that differ from the public cfg-gan-pt code: snapshots move samples
in eval mode (the author code runs batch norm in training mode there, so a
sample depends on its batch), and ``sample`` clamps images to [-1, 1].

With bf16 on, only the forward passes that train D (D on real and fake
batches, G~ making the fakes) run under autocast. The functional-gradient
steps, the targets and the regression of G~ stay in float32 (see
``fit_approximator``), so bf16 can speed up a smaller share of a CFG stage
than of a host GAN's iteration.
"""

import math

import torch
import torch.nn.functional as F

from nats.data import RealBatches, TrainingSet
from nats.functional_gradient import DiscriminatorChain
from nats.gpus import Performance, autocast_disabled
from nats.methods.base import Method, ProgressCallback, draw_latents, generate_in_batches, load_network_state
from nats.methods.errors import TrainingDiverged
from nats.networks import build_networks
from nats.schedules import annealing_weights

LR_CUT_FACTOR = 0.1


def logistic_discriminator_loss(scores_real: torch.Tensor, scores_fake: torch.Tensor) -> torch.Tensor:
    """CFG's D loss, whose optimum is D*(x) = ln p_real(x) - ln p_gen(x)."""
    return F.softplus(-scores_real).mean() + F.softplus(scores_fake).mean()


def regression_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``sum ||outputs - targets||^2 / 2 / batch``, the approximator's loss, in float32."""
    return (outputs.float() - targets.float()).pow(2).sum() / 2.0 / outputs.shape[0]


class CompositeFunctionalGradientGAN(Method):
    """xICFG with an annealed weight on every functional-gradient step."""

    sample_modes = ("refined", "generator")

    def __init__(
        self,
        settings: dict,
        training_set: TrainingSet,
        batch_size: int,
        seed: int,
        device: torch.device,
        performance: Performance | None = None,
    ):
        super().__init__(settings, training_set, batch_size, seed, device, performance)
        self.approximator, self.discriminator = build_networks(settings, training_set)
        self.performance.prepare_network(self.approximator.to(device))
        self.performance.prepare_network(self.discriminator.to(device))
        self.discriminator_optimizer = self._rmsprop(self.discriminator.parameters())
        self.weights = annealing_weights(settings["schedule"], settings["num_steps"], settings["rho"])
        self.chain = self._new_chain()
        self.real_batches = RealBatches(training_set, batch_size, self.rng)
        self.stage = 0
        self.initialised = False

    def _rmsprop(self, parameters) -> torch.optim.Optimizer:
        return torch.optim.RMSprop(parameters, lr=self.settings["lr"], alpha=self.settings["rmsprop_alpha"])

    def _new_chain(self) -> DiscriminatorChain:
        return DiscriminatorChain(self.settings["eta"], self.weights, grad_normalised=self.settings["grad_normalised"])

    def _make_discriminator(self) -> torch.nn.Module:
        return self.performance.prepare_network(build_networks(self.settings, self.training_set)[1].to(self.device))

    def _latents(self, num_samples: int) -> torch.Tensor:
        return draw_latents(num_samples, self.settings["z_dim"], self.rng, self.device)

    def fit_approximator(self, latents: torch.Tensor, targets: torch.Tensor, epochs: int) -> float:
        """Regress G~ onto ``targets`` with a fresh optimizer; return the last epoch's mean loss.

        The regression runs in float32 even inside an autocast region. A
        target differs from G~(z) by the T functional-gradient moves, which
        are the only signal of the fit. Rounding G~'s output to bfloat16
        would add noise of about 1.5% of those moves (median 7e-4 against
        0.047 per pixel for CFG on 16x16 digits after 20 kimg).
        """
        optimizer = self._rmsprop(self.approximator.parameters())
        approximator = self.performance.forward(self.approximator)
        self.approximator.train()
        previous_loss = math.inf
        lr_cuts = 0
        epoch_loss = math.nan
        for _ in range(epochs):
            order = torch.randperm(latents.shape[0], generator=self.rng).to(self.device)
            total, count = 0.0, 0
            for start in range(0, latents.shape[0], self.batch_size):
                indices = order[start : start + self.batch_size]
                # Backward stays in the float32 region too: under an enabled autocast it would recast the matrix products.
                with autocast_disabled(latents.device.type):
                    loss = regression_loss(approximator(latents[indices]), targets[indices])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                self.g_steps += 1
                total += loss.item() * indices.shape[0]
                count += indices.shape[0]
            epoch_loss = total / count
            if epoch_loss > previous_loss and lr_cuts < self.settings["approx_lr_cuts"]:
                for group in optimizer.param_groups:
                    group["lr"] *= LR_CUT_FACTOR
                lr_cuts += 1
            previous_loss = epoch_loss
        return epoch_loss

    def initialise_approximator(self) -> None:
        """Fit G~ to a random linear map z -> sample, clamped to [-1, 1]."""
        shape = self.training_set.sample_shape
        num_outputs = math.prod(shape)
        projection = torch.randn(self.settings["z_dim"], num_outputs, generator=self.rng) * self.settings["init_linear_std"]
        projection = projection.to(self.device)
        latents = self._latents(self.settings["num_targets"])
        targets = (latents @ projection).clamp(-1.0, 1.0).view(-1, *shape)
        steps_per_epoch = math.ceil(latents.shape[0] / self.batch_size)
        epochs = max(1, math.ceil(self.settings["init_fit_steps"] / steps_per_epoch))
        self.fit_approximator(latents, targets, epochs)
        self.initialised = True

    def _generate_moved(self, latents: torch.Tensor, chain: DiscriminatorChain, autocast: bool = False) -> torch.Tensor:
        """Return G~(latents) moved by ``chain``, in float32.

        ``autocast`` lets G~ run in bfloat16 when the performance options
        allow it; only fakes for D training use it, never regression targets.
        """
        context = self.performance.autocast() if autocast else autocast_disabled(latents.device.type)
        # NOTE: G~ stays in training mode here, so with g_batch_norm its batch
        # norm uses the batch's statistics and updates its running ones. The
        # author code (cfg-gan-pt) generates fakes and targets in eval mode.
        with torch.no_grad(), context:
            samples = self.performance.forward(self.approximator)(latents).float()
        return chain.move(samples)

    def run_stage(self) -> dict[str, float]:
        """Run one xICFG stage and return its diagnostics."""
        chain = self._new_chain()
        settings = self.settings
        for _ in range(settings["num_steps"]):
            for _ in range(settings["d_updates"]):
                real = self.performance.format_batch(self.real_batches.next())
                fake = self._generate_moved(self._latents(self.batch_size), chain, autocast=True)
                discriminator = self.performance.forward(self.discriminator)
                with self.performance.autocast():
                    scores_real = discriminator(real)
                    scores_fake = discriminator(fake)
                scores_real, scores_fake = scores_real.float(), scores_fake.float()
                loss = logistic_discriminator_loss(scores_real, scores_fake)
                self.discriminator_optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.discriminator_optimizer.step()
                self.real_images_shown += real.shape[0]
                self.d_steps += 1
            chain.append(self.discriminator)

        latents = self._latents(settings["num_targets"])
        targets = torch.cat(
            [self._generate_moved(latents[start : start + self.batch_size], chain) for start in range(0, latents.shape[0], self.batch_size)]
        )
        approximator_loss = self.fit_approximator(latents, targets, settings["approx_epochs"])
        self.chain = chain
        self.stage += 1

        score_gap = abs(scores_real.mean().item() - scores_fake.mean().item())
        return {
            "d_loss": loss.item(),
            "d_real": scores_real.mean().item(),
            "d_fake": scores_fake.mean().item(),
            "approximator_loss": approximator_loss,
            "score_gap": score_gap,
        }

    def train(self, budget_kimg: float, on_progress: ProgressCallback | None = None) -> None:
        if not self.initialised:
            self.initialise_approximator()
        while self.kimg < budget_kimg:
            diagnostics = self.run_stage()
            if not all(math.isfinite(value) for value in diagnostics.values()):
                raise TrainingDiverged(f"non-finite loss in stage {self.stage}: {diagnostics}")
            if self.stage > self.settings["divergence_min_stage"] and diagnostics["score_gap"] > self.settings["divergence_limit"]:
                raise TrainingDiverged(
                    f"|mean D(real) - mean D(fake)| = {diagnostics['score_gap']:.1f} exceeds "
                    f"divergence_limit {self.settings['divergence_limit']} in stage {self.stage}"
                )
            if on_progress is not None:
                on_progress(self.progress({**diagnostics, "stage": self.stage}))

    def sample(self, num_samples: int, seed: int, mode: str | None = None, batch_size: int = 500) -> torch.Tensor:
        mode = self.check_sample_mode(mode)
        latents = draw_latents(num_samples, self.settings["z_dim"], torch.Generator().manual_seed(seed), self.device)
        refine = self.chain.move if mode == "refined" else None
        return self.finish_samples(generate_in_batches(self.approximator, latents, batch_size, refine))

    def state_dict(self) -> dict:
        return {
            "approximator": self.approximator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "discriminator_optimizer": self.discriminator_optimizer.state_dict(),
            "chain": self.chain.state_dict(),
            "stage": self.stage,
            "initialised": self.initialised,
            "real_batches": self.real_batches.state_dict(),
            "rng": self.rng.get_state(),
            "counters": self.counters(),
        }

    def load_state_dict(self, state: dict) -> None:
        load_network_state(self.approximator, state["approximator"])
        load_network_state(self.discriminator, state["discriminator"])
        self.discriminator_optimizer.load_state_dict(state["discriminator_optimizer"])
        self.chain = self._new_chain()
        self.chain.load_state_dict(state["chain"], self._make_discriminator)
        self.stage = state["stage"]
        self.initialised = state["initialised"]
        self.real_batches.load_state_dict(state["real_batches"])
        self.rng.set_state(state["rng"])
        self.load_counters(state["counters"])
