"""Checkpoints that let a run continue exactly where it stopped.

A checkpoint contains the method's state (networks, optimizers, D snapshots of
the CFG family, data order, the method's own generator and its counters),
the global random states (Python, NumPy, torch CPU and CUDA), the training
monitor's schedule and the training-relevant part of the run config.
Methods report progress only between iterations (a CFG stage, a NATS outer
iteration, a D/G round), so a checkpoint never falls inside an annealing
schedule and the schedule position is always its start.

Two kinds of file are written, both atomically:

- ``checkpoints/kimg*.pt``: snapshots every ``snapshot_kimg``, kept for the
  evaluation curves;
- ``checkpoints/resume.pt``: every ``checkpoint_kimg``; the previous one is
  renamed to ``resume.previous.pt`` only once the new one is complete.

``find_latest_checkpoint`` picks the checkpoint with the largest kimg that
loads, and warns about every newer one that does not.
"""

import logging
import random
from pathlib import Path

import numpy as np
import torch

from nats import runs

logger = logging.getLogger(__name__)

RESUME_CHECKPOINT = "resume.pt"
PREVIOUS_RESUME_CHECKPOINT = "resume.previous.pt"
REQUIRED_KEYS = ("method", "kimg", "counters", "random_states", "monitor", "run_config")


class CorruptCheckpoint(ValueError):
    """A checkpoint file that cannot be read back."""


def capture_random_states() -> dict:
    """Return the global random states of Python, NumPy and torch."""
    states = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(states: dict) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_resume_checkpoint(payload: dict, run_dir: Path) -> Path:
    """Write ``resume.pt``, keeping the previous one until the new one is complete."""
    folder = Path(run_dir) / runs.CHECKPOINT_DIR
    latest = folder / RESUME_CHECKPOINT
    staged = folder / f".{RESUME_CHECKPOINT}.staged"
    runs.atomic_torch_save(payload, staged)
    if latest.exists():
        latest.replace(folder / PREVIOUS_RESUME_CHECKPOINT)
    staged.replace(latest)
    return latest


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict:
    """Load a checkpoint and check that it is complete.

    Raises:
        CorruptCheckpoint: naming the file, if it is truncated, unreadable
            or lacks part of the state.
    """
    try:
        payload = torch.load(path, map_location=device, weights_only=False)
    except Exception as error:  # torch raises several types for a damaged file
        raise CorruptCheckpoint(f"checkpoint {str(path)!r} cannot be read ({type(error).__name__}: {error})") from error
    missing = [key for key in REQUIRED_KEYS if not isinstance(payload, dict) or key not in payload]
    if missing:
        raise CorruptCheckpoint(f"checkpoint {str(path)!r} lacks {', '.join(missing)}")
    return payload


def find_latest_checkpoint(run_dir: Path, device: torch.device | str = "cpu") -> tuple[Path, dict] | None:
    """Return the readable checkpoint with the largest kimg and its payload, or ``None``.

    Every newer checkpoint that cannot be read is reported with a warning
    and skipped, so a file truncated by a crash falls back to the one before.
    """
    folder = Path(run_dir) / runs.CHECKPOINT_DIR
    candidates: list[tuple[float, Path, dict | None]] = [
        (runs.checkpoint_kimg(path), path, None) for path in runs.list_checkpoints(run_dir)
    ]

    # Resume files carry their kimg inside, so they are read to be placed in order.
    for name in (RESUME_CHECKPOINT, PREVIOUS_RESUME_CHECKPOINT):
        path = folder / name
        if not path.is_file():
            continue
        try:
            payload = load_checkpoint(path, device)
        except CorruptCheckpoint as error:
            logger.warning("%s; falling back to an earlier checkpoint", error)
            continue
        candidates.append((round(payload["kimg"], 3), path, payload))

    for _, path, payload in sorted(candidates, key=lambda item: item[0], reverse=True):
        if payload is None:
            try:
                payload = load_checkpoint(path, device)
            except CorruptCheckpoint as error:
                logger.warning("%s; falling back to an earlier checkpoint", error)
                continue
        return path, payload
    return None
