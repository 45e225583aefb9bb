"""Facts that let a reader trust and rerun a result: code, packages, machine."""

import importlib.metadata
import platform
import subprocess
from pathlib import Path

import torch

RECORDED_PACKAGES = (
    "torch",
    "torchvision",
    "torch-fidelity",
    "clean-fid",
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "matplotlib",
    "snakemake",
)

# Implementation choices that differ from the public CFG code. Every run
# records them, so a comparison with other numbers can take them into account.
IMPLEMENTATION_CHOICES = {
    "discriminator_mode_while_moving_samples": "eval",
    "images_clamped_to_unit_range_before_metrics": True,
}


def git_state(directory: Path) -> dict:
    """Commit and dirty flag of the git checkout holding ``directory``, or ``unknown``."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


def package_versions() -> dict[str, str]:
    versions = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_description(device: torch.device) -> dict:
    description = {"device": str(device), "threads": torch.get_num_threads(), "platform": platform.platform()}
    if device.type == "cuda":
        description["gpu"] = torch.cuda.get_device_name(device)
    else:
        description["cpu"] = platform.processor() or platform.machine()
    return description


def collect_provenance(device: torch.device) -> dict:
    """Everything about the code and machine a run depends on."""
    return {
        "git": git_state(Path(__file__).resolve().parent),
        "python": platform.python_version(),
        "packages": package_versions(),
        "machine": device_description(device),
        "implementation_choices": IMPLEMENTATION_CHOICES,
    }
