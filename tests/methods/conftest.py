"""Small settings that make every method train in well under a second."""

from nats.config import resolve_run_config

TINY_NETWORKS = {"z_dim": 8, "g_width": 8, "d_width": 8}
TINY_CFG = {"num_steps": 3, "num_targets": 64, "approx_epochs": 2, "init_fit_steps": 4}


def tiny_settings(method: str, dataset: str = "digits", **extra) -> dict:
    """Resolved method settings of ``method`` with tiny networks and stages."""
    block = dict(TINY_NETWORKS)
    if "cfg" in method:
        block.update(TINY_CFG)
    block.update(extra)
    config = {"name": "unit", "seeds": [0], "datasets": {dataset: {}}, "methods": {method: block}}
    return resolve_run_config(config, dataset, method, 0)["method"]
