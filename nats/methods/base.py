"""The interface every trainable method of the grid implements."""

import abc
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn as nn

from nats.data import TrainingSet
from nats.gpus import Performance, autocast_disabled, strip_compile_prefix


@dataclass
class TrainingProgress:
    """Counters and diagnostics a method reports after each iteration.

    Attributes:
        kimg: thousands of real images (or points) shown to D so far.
        d_steps: discriminator optimizer steps so far.
        g_steps: generator (or approximator) optimizer steps so far.
        losses: scalar diagnostics of the last iteration, by name.
    """

    kimg: float
    d_steps: int
    g_steps: int
    losses: dict[str, float] = field(default_factory=dict)


ProgressCallback = Callable[[TrainingProgress], None]


class Method(abc.ABC):
    """A generative model with its training procedure.

    Subclasses build their networks in ``__init__`` from the method settings
    of a run config, train with ``train`` and draw samples with ``sample``.
    All randomness flows from ``seed``, so the same seed and settings give
    the same numbers on CPU.

    Args:
        settings: the ``method`` block of a resolved run config.
        training_set: the real data, already on ``device``.
        batch_size: minibatch size for D and G.
        seed: seed for initialisation, latent draws and data order.
        device: where the networks live.
        performance: bf16 autocast, channels-last and compile options;
            ``None`` turns them all off.
    """

    #: Ways ``sample`` can draw images; the first one is the default.
    sample_modes: tuple[str, ...] = ("generator",)

    def __init__(
        self,
        settings: dict,
        training_set: TrainingSet,
        batch_size: int,
        seed: int,
        device: torch.device,
        performance: Performance | None = None,
    ):
        self.settings = settings
        self.training_set = training_set
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self.performance = performance or Performance(device)
        self.real_images_shown = 0
        self.d_steps = 0
        self.g_steps = 0

        # Network initialisation draws from the global generator; latents and
        # the data order draw from the method's own generator.
        torch.manual_seed(seed)
        self.rng = torch.Generator().manual_seed(seed)

    @property
    def kimg(self) -> float:
        return self.real_images_shown / 1000.0

    def progress(self, losses: dict[str, float] | None = None) -> TrainingProgress:
        return TrainingProgress(self.kimg, self.d_steps, self.g_steps, dict(losses or {}))

    @abc.abstractmethod
    def train(self, budget_kimg: float, on_progress: ProgressCallback | None = None) -> None:
        """Train until ``budget_kimg`` thousand real samples have been shown to D.

        Calls ``on_progress`` after every iteration (one D/G round, one CFG
        stage, one NATS outer iteration). Training can be continued by
        calling ``train`` again with a larger budget.
        """

    @abc.abstractmethod
    def sample(self, num_samples: int, seed: int, mode: str | None = None, batch_size: int = 500) -> torch.Tensor:
        """Draw ``num_samples`` samples on the CPU.

        Images come back clamped to [-1, 1]; 2D points come back as they are.
        The same ``seed`` gives the same samples whatever ``batch_size``.

        Args:
            num_samples: how many samples to draw.
            seed: seed of the latent draws.
            mode: one of ``sample_modes``; ``None`` means the first.
            batch_size: samples generated per forward pass.
        """

    @abc.abstractmethod
    def state_dict(self) -> dict:
        """Return everything needed to sample from and continue training the method."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict) -> None:
        """Restore a state returned by ``state_dict``."""

    def check_sample_mode(self, mode: str | None) -> str:
        if mode is None:
            return self.sample_modes[0]
        if mode not in self.sample_modes:
            raise ValueError(
                f"sample mode {mode!r} is not available for {type(self).__name__}; "
                f"expected one of {', '.join(self.sample_modes)}"
            )
        return mode

    def finish_samples(self, samples: torch.Tensor) -> torch.Tensor:
        """Clamp images to [-1, 1]; leave 2D points as they are."""
        if self.training_set.kind == "image":
            return samples.clamp(-1.0, 1.0)
        return samples

    def counters(self) -> dict:
        return {"real_images_shown": self.real_images_shown, "d_steps": self.d_steps, "g_steps": self.g_steps}

    def load_counters(self, state: dict) -> None:
        self.real_images_shown = state["real_images_shown"]
        self.d_steps = state["d_steps"]
        self.g_steps = state["g_steps"]


def load_network_state(network: nn.Module, state: dict) -> None:
    """Load a network's state dict, also one saved from a ``torch.compile`` wrapper."""
    network.load_state_dict(strip_compile_prefix(state))


def draw_latents(num_samples: int, z_dim: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Draw z ~ N(0, I) on the CPU from ``generator`` and move it to ``device``.

    Drawing on the CPU keeps the latents of a seed the same on every device.
    """
    return torch.randn(num_samples, z_dim, generator=generator).to(device)


@torch.no_grad()
def generate_in_batches(
    generator_net: torch.nn.Module,
    latents: torch.Tensor,
    batch_size: int,
    refine: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Run ``generator_net`` in eval mode over ``latents`` in batches, on the CPU result.

    Samples are generated in float32, outside any autocast region, because
    they feed the metrics: bfloat16 rounds values near 1 in steps of 2^-8,
    about half the 1/127.5 step of the uint8 images the metrics read.

    Args:
        generator_net: G; restored to its previous mode afterwards.
        latents: all latent vectors, on G's device.
        batch_size: latents per forward pass.
        refine: optional function applied to each generated batch (it may
            enable gradients itself, as the CFG refinement steps do).
    """
    was_training = generator_net.training
    generator_net.eval()
    try:
        outputs = []
        for start in range(0, latents.shape[0], batch_size):
            with autocast_disabled(latents.device.type):
                batch = generator_net(latents[start : start + batch_size])
            if refine is not None:
                batch = refine(batch)
            outputs.append(batch.detach().cpu())
    finally:
        generator_net.train(was_training)
    return torch.cat(outputs)
