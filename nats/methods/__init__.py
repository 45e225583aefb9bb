"""The methods of the grid, built by name from a resolved run config."""

import torch

from nats.data import TrainingSet
from nats.gpus import Performance
from nats.methods.base import Method, ProgressCallback, TrainingProgress
from nats.methods.errors import TrainingDiverged

# Method name -> host GAN it trains (None for the CFG family).
METHOD_HOSTS = {
    "cfg": None,
    "annealed-cfg": None,
    "wgan-gp": "wgan-gp",
    "sngan": "sngan",
    "nats-wgan-gp": "wgan-gp",
    "nats-sngan": "sngan",
}


def build_method(
    settings: dict,
    training_set: TrainingSet,
    batch_size: int,
    seed: int,
    device: torch.device,
    performance: Performance | None = None,
) -> Method:
    """Build the method named ``settings["name"]``.

    Args:
        settings: the ``method`` block of a resolved run config.
        training_set: real data, already on ``device``.
        batch_size: minibatch size.
        seed: training seed.
        device: where the networks live.
        performance: bf16 autocast, channels-last and compile options;
            ``None`` turns them all off.

    Raises:
        ValueError: for an unknown method name.
    """
    # Imported here because baselines builds on this package.
    from baselines import build_host_spec
    from baselines.alternating import AlternatingGAN
    from nats.methods.cfg import CompositeFunctionalGradientGAN
    from nats.methods.nats import NestedAnnealedTraining

    name = settings.get("name")
    if name not in METHOD_HOSTS:
        raise ValueError(f"unknown method {name!r}; expected one of {', '.join(METHOD_HOSTS)}")

    host = METHOD_HOSTS[name]
    if host is None:
        return CompositeFunctionalGradientGAN(settings, training_set, batch_size, seed, device, performance)
    spec = build_host_spec(host, settings)
    if name.startswith("nats-"):
        return NestedAnnealedTraining(spec, settings, training_set, batch_size, seed, device, performance)
    return AlternatingGAN(spec, settings, training_set, batch_size, seed, device, performance)


__all__ = ["METHOD_HOSTS", "Method", "ProgressCallback", "TrainingDiverged", "TrainingProgress", "build_method"]
