"""The functional-gradient core shared by CFG, annealed CFG and NATS.

One step moves every sample along the negative gradient of a per-sample
generator loss of the discriminator output:

    x <- x - step_size * grad_x l(D(x))

With ``l(d) = -d`` this is the CFG step ``x + eta * grad_x D(x)``; the CFG
discriminator approximates ln p_real - ln p_gen, so the step follows the
difference of the real and generated score functions. NATS passes its
host's generator loss instead.

Samples move with the discriminator in eval mode, so batch norm uses its
running statistics and a sample does not depend on the rest of its batch,
and spectral norm does not advance its power iteration.

Steps run in float32 even inside a bfloat16 autocast region. With D run
in bfloat16, grad_x D was 1.5 to 1.8% off its float32 value (relative L2
norm; SNGAN and WGAN-GP discriminators on 16x16 digits after 10 kimg, CPU
autocast), and each of the T steps would add that error to the samples.
``benchmarks/gpu_check.py`` prints this error on a GPU.
"""

import contextlib
import copy
from typing import Callable, Iterator

import torch
import torch.nn as nn

from nats.gpus import autocast_disabled, strip_compile_prefix

GeneratorLoss = Callable[[torch.Tensor], torch.Tensor]

# Guards the division of the gradient-normalised variant.
NORM_EPSILON = 1e-12


def negated_output(scores: torch.Tensor) -> torch.Tensor:
    """The CFG generator loss l(d) = -d, whose descent direction is +grad D."""
    return -scores


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` in eval mode for the block and restore its mode after."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def functional_gradient_step(
    samples: torch.Tensor,
    discriminator: nn.Module,
    step_size: float,
    generator_loss: GeneratorLoss = negated_output,
    grad_normalised: bool = False,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Move ``samples`` one functional-gradient step, in float32.

    Args:
        samples: a batch of samples; not modified.
        discriminator: D, used in eval mode; its parameters get no gradient.
        step_size: eta times the annealing weight of this step.
        generator_loss: per-sample loss l of the D outputs.
        grad_normalised: divide the direction by its batch-mean L2 norm
            (taken per sample over all non-batch dimensions).
        forward: the callable that runs ``discriminator``, e.g. its compiled
            wrapper; ``None`` calls ``discriminator``.

    Returns:
        The moved samples in float32, detached from any graph.
    """
    if forward is None:
        forward = discriminator
    points = samples.detach().float().requires_grad_(True)
    with torch.enable_grad(), eval_mode(discriminator), autocast_disabled(points.device.type):
        loss = generator_loss(forward(points).float()).sum()
        (gradient,) = torch.autograd.grad(loss, points)

    direction = -gradient
    if grad_normalised:
        mean_norm = direction.flatten(1).norm(dim=1).mean()
        direction = direction / (mean_norm + NORM_EPSILON)
    return (points + step_size * direction).detach()


class DiscriminatorChain:
    """Snapshots D_1..D_t of a discriminator and the steps they apply.

    Step t moves samples by ``eta * weights[t] * (-grad l(D_t(x)))``. The
    chain can hold fewer snapshots than weights while a CFG stage is being
    built; ``move`` applies the snapshots present.

    Args:
        eta: base step size.
        weights: annealing weights lambda_1..lambda_T.
        generator_loss: per-sample loss whose negative gradient is followed.
        grad_normalised: use the gradient-normalised step.
    """

    def __init__(
        self,
        eta: float,
        weights: list[float],
        generator_loss: GeneratorLoss = negated_output,
        grad_normalised: bool = False,
    ):
        self.eta = eta
        self.weights = list(weights)
        self.generator_loss = generator_loss
        self.grad_normalised = grad_normalised
        self.snapshots: list[nn.Module] = []

    def __len__(self) -> int:
        return len(self.snapshots)

    def step_size(self, index: int) -> float:
        return self.eta * self.weights[index]

    def append(self, discriminator: nn.Module) -> None:
        """Store a frozen copy of ``discriminator`` as the next snapshot."""
        if len(self.snapshots) >= len(self.weights):
            raise ValueError(f"the chain is full: it already contains its {len(self.weights)} snapshots")
        snapshot = copy.deepcopy(discriminator).eval()
        for parameter in snapshot.parameters():
            parameter.requires_grad_(False)
        self.snapshots.append(snapshot)

    def move(self, samples: torch.Tensor) -> torch.Tensor:
        """Apply every stored snapshot's step to ``samples`` in order."""
        for index, snapshot in enumerate(self.snapshots):
            samples = functional_gradient_step(
                samples, snapshot, self.step_size(index), self.generator_loss, self.grad_normalised
            )
        return samples

    def state_dict(self) -> list[dict]:
        return [snapshot.state_dict() for snapshot in self.snapshots]

    def load_state_dict(self, states: list[dict], make_discriminator: Callable[[], nn.Module]) -> None:
        self.snapshots = []
        for state in states:
            discriminator = make_discriminator()
            discriminator.load_state_dict(strip_compile_prefix(state))
            self.append(discriminator)
