"""Facts that let a reader trust and rerun a result: code, packages, machine."""

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

import torch

from nats.gpus import VISIBLE_DEVICES_VARIABLE, GpuClaim, Performance

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


def device_description(device: torch.device, gpu_claim: GpuClaim | None = None) -> dict:
    """Describe the device and machine: torch build, GPU name and id, or CPU.

    Args:
        device: the training device.
        gpu_claim: the GPU lock of this process, if it holds one.
    """
    description = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "torch": torch.__version__,
    }
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        description.update(
            gpu=properties.name,
            gpu_index=device.index if device.index is not None else torch.cuda.current_device(),
            gpu_memory_mib=properties.total_memory // 2**20,
            gpu_compute_capability=f"{properties.major}.{properties.minor}",
            cuda_visible_devices=os.environ.get(VISIBLE_DEVICES_VARIABLE),
            gpu_claim=gpu_claim.describe() if gpu_claim is not None else None,
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
        )
    else:
        description["cpu"] = platform.processor() or platform.machine()
    return description


def collect_provenance(
    device: torch.device,
    performance_options: dict | None = None,
    performance: Performance | None = None,
    gpu_claim: GpuClaim | None = None,
) -> dict:
    """Return everything about the code and machine a run depends on.

    Args:
        device: the training device.
        performance_options: the run config's ``training.performance``, defaults filled in.
        performance: the options in effect on ``device`` (all off on a CPU).
        gpu_claim: the GPU lock of this process, if it holds one.
    """
    return {
        "git": git_state(Path(__file__).resolve().parent),
        "python": platform.python_version(),
        "packages": package_versions(),
        "machine": device_description(device, gpu_claim),
        "performance": {
            "requested": performance_options,
            "in_effect": (performance or Performance(device)).describe(),
        },
        "implementation_choices": IMPLEMENTATION_CHOICES,
    }
