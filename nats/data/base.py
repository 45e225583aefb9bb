"""The in-memory training set and its minibatch sampler."""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from nats.data.vision.sets import ImageTrainingSet


@dataclass
class TrainingSet:
    """A whole training set held as one float tensor.

    Attributes:
        name: dataset name, as used in configs and result paths.
        kind: ``"image"`` for (N, C, H, W) tensors in [-1, 1], ``"points"``
            for (N, 2) tensors of 2D coordinates.
        samples: the training samples.
        info: dataset facts the metrics need (mixture centres and standard
            deviation, image resolution).
    """

    name: str
    kind: str
    samples: torch.Tensor
    info: dict = field(default_factory=dict)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.samples.shape[1:])

    def __len__(self) -> int:
        return self.samples.shape[0]

    def to(self, device: torch.device) -> "TrainingSet":
        return TrainingSet(self.name, self.kind, self.samples.to(device), self.info)

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        """Return the samples at ``indices``, on the samples' device."""
        return self.samples[indices.to(self.samples.device)]


class RealBatches:
    """Draw minibatches by walking through random permutations of the set.

    Each epoch is a fresh permutation drawn from ``generator``, so the order
    depends only on the seed. A batch never straddles two epochs: the tail
    of a permutation shorter than a batch is skipped. The training set turns
    the indices into a batch with ``batch(indices)``: a ``TrainingSet``
    indexes its float tensor, an image set of ``nats.data.images`` converts
    uint8 pixels held in memory or read from disk.
    """

    def __init__(self, training_set: "TrainingSet | ImageTrainingSet", batch_size: int, generator: torch.Generator):
        if batch_size > len(training_set):
            raise ValueError(
                f"batch_size {batch_size} is larger than the {len(training_set)} "
                f"samples of {training_set.name!r}; lower batch_size"
            )
        self.training_set = training_set
        self.batch_size = batch_size
        self.generator = generator
        self.permutation = torch.empty(0, dtype=torch.long)
        self.position = 0

    def next(self) -> torch.Tensor:
        if self.position + self.batch_size > len(self.permutation):
            self.permutation = torch.randperm(len(self.training_set), generator=self.generator)
            self.position = 0
        indices = self.permutation[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return self.training_set.batch(indices)

    def state_dict(self) -> dict:
        return {"permutation": self.permutation.clone(), "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.permutation = state["permutation"].clone()
        self.position = state["position"]
