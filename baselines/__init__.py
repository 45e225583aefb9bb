"""Baseline GANs as host specs, trainable the standard way or inside NATS."""

from baselines.host import HostSpec
from baselines.sngan import sngan_spec
from baselines.wgan_gp import gradient_penalty, wgan_gp_spec

HOST_SPECS = {
    "wgan-gp": wgan_gp_spec,
    "sngan": sngan_spec,
}


def build_host_spec(host: str, settings: dict) -> HostSpec:
    """Build the spec of the host GAN called ``host`` from method settings."""
    if host not in HOST_SPECS:
        raise ValueError(f"unknown host GAN {host!r}; expected one of {', '.join(HOST_SPECS)}")
    return HOST_SPECS[host](settings)


__all__ = ["HOST_SPECS", "HostSpec", "build_host_spec", "gradient_penalty", "sngan_spec", "wgan_gp_spec"]
