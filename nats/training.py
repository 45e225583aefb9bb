"""Train one run of the grid into its run folder.

``train_run`` writes the resolved config and provenance, takes a checkpoint
at 0 kimg, every ``snapshot_kimg`` and at the end, logs the training
diagnostics as JSON lines, and finally writes ``final.pt``, the file the
Snakemake ``train`` rule waits for.
"""

import json
import logging
import math
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
import yaml
from tqdm import tqdm

from nats import runs
from nats.config import ConfigError, differing_keys, training_relevant, validate_run_config
from nats.data import load_training_set
from nats.methods import Method, TrainingDiverged, TrainingProgress, build_method
from nats.provenance import collect_provenance

logger = logging.getLogger(__name__)

# Training-log lines per snapshot interval, at most.
LOG_LINES_PER_SNAPSHOT = 10
SAMPLES_PER_SNAPSHOT = {"image": 64, "points": 1000}
SNAPSHOT_SAMPLE_SEED = 0
PROGRESS_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:.2f}/{total:.2f} kimg [{elapsed}<{remaining}]"


class RunFolderConflict(ValueError):
    """The run folder belongs to a run with other training settings."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was requested but no CUDA device is available; set device: cpu or auto")
    return torch.device(name)


def check_run_folder(run_config: dict, run_dir: Path) -> None:
    """Reject a run folder that contains a run with different training settings."""
    config_path = run_dir / runs.CONFIG_FILE
    if not config_path.is_file():
        return
    existing = runs.read_run_config(run_dir)
    differences = differing_keys(training_relevant(existing), training_relevant(run_config))
    if differences:
        raise RunFolderConflict(
            f"run folder {str(run_dir)!r} already contains a run with other settings ({', '.join(differences)}); "
            "give this config another name, or move the old run folder away"
        )


def save_image_grid(images: torch.Tensor, path: Path, columns: int = 8) -> None:
    """Save images in [-1, 1] as one PNG grid, without padding."""
    from PIL import Image

    count, channels, height, width = images.shape
    rows = math.ceil(count / columns)
    canvas = torch.full((rows * columns, channels, height, width), -1.0)
    canvas[:count] = images
    grid = canvas.view(rows, columns, channels, height, width).permute(0, 3, 1, 4, 2).reshape(rows * height, columns * width, channels)
    pixels = (grid * 127.5 + 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels).save(path)


def save_snapshot(method: Method, run_dir: Path) -> Path:
    """Save a checkpoint and a picture of samples at the method's current kimg."""
    path = runs.checkpoint_path(run_dir, method.kimg)
    runs.atomic_torch_save({"method": method.state_dict(), "kimg": method.kimg, "counters": method.counters()}, path)

    kind = method.training_set.kind
    samples = method.sample(SAMPLES_PER_SNAPSHOT[kind], seed=SNAPSHOT_SAMPLE_SEED)
    samples_path = run_dir / runs.SAMPLES_DIR / path.name.replace(".pt", ".png" if kind == "image" else ".pt")
    samples_path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "image":
        save_image_grid(samples, samples_path)
    else:
        runs.atomic_torch_save(samples, samples_path)
    return path


class TrainingMonitor:
    """Progress callback: progress bar, JSON-lines log and periodic checkpoints."""

    def __init__(self, method: Method, run_dir: Path, budget_kimg: float, snapshot_kimg: float, started: float):
        self.method = method
        self.run_dir = run_dir
        self.snapshot_kimg = snapshot_kimg
        self.next_snapshot = snapshot_kimg
        self.log_interval = snapshot_kimg / LOG_LINES_PER_SNAPSHOT
        self.next_log = 0.0
        self.started = started
        self.last_checkpoint = runs.checkpoint_path(run_dir, method.kimg)
        self.bar = tqdm(
            total=round(budget_kimg, 3), unit="kimg", desc=run_dir.name, mininterval=2.0, bar_format=PROGRESS_FORMAT
        )
        self.log_handle = (run_dir / runs.TRAINING_LOG).open("a")

    def __call__(self, progress: TrainingProgress) -> None:
        self.bar.update(round(min(progress.kimg, self.bar.total) - self.bar.n, 3))
        if progress.kimg >= self.next_log:
            record = {
                "kimg": progress.kimg,
                "d_steps": progress.d_steps,
                "g_steps": progress.g_steps,
                "wall_s": time.time() - self.started,
                **progress.losses,
            }
            self.log_handle.write(json.dumps(record) + "\n")
            self.log_handle.flush()
            self.next_log = progress.kimg + self.log_interval
        if progress.kimg >= self.next_snapshot:
            self.last_checkpoint = save_snapshot(self.method, self.run_dir)
            self.next_snapshot = (math.floor(progress.kimg / self.snapshot_kimg) + 1) * self.snapshot_kimg

    def close(self) -> None:
        self.bar.close()
        self.log_handle.close()


def write_provenance(run_dir: Path, provenance: dict) -> None:
    runs.atomic_write_text(run_dir / runs.PROVENANCE_FILE, json.dumps(provenance, indent=2) + "\n")


def train_run(run_config: dict, run_dir: Path, threads: int | None = None) -> None:
    """Train one run and write everything into ``run_dir``.

    Args:
        run_config: a resolved run config (``nats-bench resolve`` prints one).
        run_dir: the run folder; created if missing.
        threads: CPU threads for torch; ``None`` keeps torch's default.

    Raises:
        ConfigError: if the run config is invalid.
        RunFolderConflict: if ``run_dir`` contains a run with other settings.
        TrainingDiverged: if training diverged; provenance then says so.
    """
    validate_run_config(run_config)
    run_dir = Path(run_dir)
    check_run_folder(run_config, run_dir)
    if threads is not None:
        torch.set_num_threads(threads)
    training = run_config["training"]
    device = resolve_device(training["device"])

    # NOTE: an interrupted run restarts from 0 kimg; resuming from its last
    # checkpoint is not implemented yet.
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / runs.TRAINING_LOG).unlink(missing_ok=True)
    runs.atomic_write_text(run_dir / runs.CONFIG_FILE, yaml.safe_dump(run_config, sort_keys=False))
    started = time.time()
    provenance = {
        "status": "running",
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **collect_provenance(device),
    }
    write_provenance(run_dir, provenance)

    dataset = run_config["dataset"]
    training_set = load_training_set(dataset["name"], dataset).to(device)
    method = build_method(run_config["method"], training_set, training["batch_size"], training["seed"], device)
    logger.info(
        "training %s on %s, seed %d, %.1f kimg on %s", run_config["method"]["name"], dataset["name"], training["seed"], training["budget_kimg"], device
    )
    save_snapshot(method, run_dir)

    monitor = TrainingMonitor(method, run_dir, training["budget_kimg"], training["snapshot_kimg"], started)
    try:
        method.train(training["budget_kimg"], monitor)
    except BaseException as error:
        status = "diverged" if isinstance(error, TrainingDiverged) else "interrupted"
        provenance.update(status=status, error=f"{type(error).__name__}: {error}")
        raise
    finally:
        monitor.close()
        provenance.update(wall_s=round(time.time() - started, 3), kimg=method.kimg, **method.counters())
        if provenance["status"] != "running":
            write_provenance(run_dir, provenance)

    final_checkpoint = monitor.last_checkpoint
    if runs.checkpoint_kimg(final_checkpoint) != round(method.kimg, 3):
        final_checkpoint = save_snapshot(method, run_dir)
    runs.atomic_write_bytes(run_dir / runs.FINAL_CHECKPOINT, final_checkpoint.read_bytes())

    provenance.update(status="complete", finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    write_provenance(run_dir, provenance)
    logger.info("finished in %.1f s: %.2f kimg, %d D steps, %d G steps", provenance["wall_s"], method.kimg, method.d_steps, method.g_steps)
