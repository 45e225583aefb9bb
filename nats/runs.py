"""The run folder: where one run keeps its config, checkpoints and logs.

Layout of ``results/<config>/runs/<dataset>/<method>/seed<k>/``:

    config.yaml         the resolved run config
    provenance.json     git commit, package versions, device, wall time, counters, status
    log.jsonl           training log, one JSON object per logged iteration
    checkpoints/        kimg00000.000.pt, kimg00005.120.pt, ... (method state + counters)
    samples/            a sample grid (images) or point cloud (2D) per checkpoint
    final.pt            the last checkpoint, written when training completes
"""

import json
import re
from pathlib import Path

import torch
import yaml

from nats.atomic_files import atomic_write, atomic_write_bytes, atomic_write_text  # noqa: F401 (the harness writes through nats.runs)

CHECKPOINT_DIR = "checkpoints"
FINAL_CHECKPOINT = "final.pt"
CONFIG_FILE = "config.yaml"
PROVENANCE_FILE = "provenance.json"
TRAINING_LOG = "log.jsonl"
SAMPLES_DIR = "samples"

_CHECKPOINT_PATTERN = re.compile(r"^kimg(\d+\.\d{3})\.pt$")


def checkpoint_name(kimg: float) -> str:
    """File name of the checkpoint taken at ``kimg``, e.g. ``kimg00010.240.pt``."""
    return f"kimg{kimg:09.3f}.pt"


def checkpoint_path(run_dir: Path, kimg: float) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / checkpoint_name(kimg)


def checkpoint_kimg(path: Path) -> float:
    """Parse the kimg out of a checkpoint's file name."""
    match = _CHECKPOINT_PATTERN.match(Path(path).name)
    if match is None:
        raise ValueError(f"{str(path)!r} is not a checkpoint name of the form kimgNNNNN.NNN.pt")
    return float(match.group(1))


def atomic_torch_save(obj, path: Path) -> None:
    """``torch.save`` that never leaves a half-written file at ``path``."""
    atomic_write(path, lambda handle: torch.save(obj, handle))


def read_run_config(run_dir: Path) -> dict:
    """Read the resolved run config of a run folder."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} not found; is {str(run_dir)!r} a run folder written by 'nats-bench train'?")
    with path.open() as handle:
        return yaml.safe_load(handle)


def list_checkpoints(run_dir: Path) -> list[Path]:
    """List every checkpoint of a run, sorted by kimg."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    paths = [path for path in folder.glob("kimg*.pt") if _CHECKPOINT_PATTERN.match(path.name)]
    return sorted(paths, key=checkpoint_kimg)


def load_method(run_dir: Path, checkpoint_path: Path, device: str | torch.device = "cpu"):
    """Rebuild a run's method and restore it from a checkpoint.

    Args:
        run_dir: the run folder, for its config.
        checkpoint_path: a checkpoint of that run (or its ``final.pt``).
        device: where to put the networks.

    Returns:
        The method with networks, snapshots and counters restored.
    """
    from nats.data import load_training_set
    from nats.methods import build_method

    run_config = read_run_config(run_dir)
    device = torch.device(device)
    dataset_settings = dict(run_config["dataset"])
    if "in_memory" in dataset_settings:
        # Sampling needs only the set's shape and facts; streaming avoids
        # decoding a whole image dataset to rebuild the networks.
        dataset_settings["in_memory"] = False
    training_set = load_training_set(dataset_settings["name"], dataset_settings).to(device)
    method = build_method(
        run_config["method"], training_set, run_config["training"]["batch_size"], run_config["training"]["seed"], device
    )
    checkpoint = torch.load(checkpoint_path, map_location=device, weights_only=False)
    method.load_state_dict(checkpoint["method"])
    return method


def read_training_log(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / TRAINING_LOG
    with path.open() as handle:
        return [json.loads(line) for line in handle if line.strip()]
