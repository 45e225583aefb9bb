"""NATS-bench: NATS, annealed CFG and baseline GANs on one harness."""

__version__ = "0.1.0"
