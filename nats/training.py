"""Train one run of the grid into its run folder, resuming where it stopped.

``train_run`` writes the resolved config and provenance and logs the
training diagnostics as JSON lines. It takes a snapshot at 0 kimg, every
``snapshot_kimg`` and at the end, and a resume checkpoint every
``checkpoint_kimg``. Last it writes ``final.pt``, the file the Snakemake
``train`` rule waits for.

A run folder with checkpoints is continued from its latest readable one, so
a run killed by SLURM or Ctrl-C continues exactly where it stopped. SIGTERM
and SIGINT save a checkpoint first and end the run with
``TrainingInterrupted``. A diverged run still gets its ``final.pt``, with
``status: diverged`` in it and in its provenance, so the rest of the grid
goes on and the tables can count it.
"""

import json
import logging
import math
import signal
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
import yaml
from tqdm import tqdm

from nats import runs
from nats.checkpointing import capture_random_states, find_latest_checkpoint, restore_random_states, save_resume_checkpoint
from nats.config import ConfigError, run_settings_conflicts, training_relevant, validate_run_config
from nats.data import load_training_set
from nats.exceptions import TrainingInterrupted
from nats.gpus import GpuClaim, Performance, claim_gpu, performance_settings
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
    """Return the torch device for a config's ``device``: ``cpu``, ``cuda`` or ``auto``.

    Call ``claim_gpu`` before this: checking for CUDA initialises it, after
    which ``CUDA_VISIBLE_DEVICES`` no longer takes effect.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was requested but no CUDA device is available; set device: cpu or auto")
    return torch.device(name)


def claim_device(name: str) -> tuple[torch.device, GpuClaim | None]:
    """Resolve a config's ``device``, first claiming a GPU of its own for this process.

    Args:
        name: ``cpu``, ``cuda`` or ``auto``.

    Returns:
        The device, and the GPU claim (``None`` on a CPU).

    Raises:
        ConfigError: if ``cuda`` is requested and no GPU is available.
        GpuClaimTimeout: if every GPU stays locked by other jobs longer than
            ``$NATS_GPU_WAIT_S``.
    """
    gpu_claim = claim_gpu() if name in ("cuda", "auto") else None
    device = resolve_device(name)
    if name == "auto" and device.type == "cpu":
        logger.warning("device is auto and torch sees no CUDA device, so this job runs on the CPU; set device: cuda to fail instead")
    if gpu_claim is not None and device.type != "cuda":
        gpu_claim.release()
        gpu_claim = None
    return device, gpu_claim


def check_run_folder(run_config: dict, run_dir: Path) -> None:
    """Reject a run folder that contains a run with different training settings."""
    config_path = run_dir / runs.CONFIG_FILE
    if not config_path.is_file():
        return
    existing = runs.read_run_config(run_dir)
    differences = run_settings_conflicts(existing, run_config)
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


def save_snapshot(method: Method, payload: dict, run_dir: Path) -> Path:
    """Save a snapshot checkpoint and a picture of samples at the method's current kimg."""
    path = runs.checkpoint_path(run_dir, method.kimg)
    runs.atomic_torch_save(payload, path)

    kind = method.training_set.kind
    samples = method.sample(SAMPLES_PER_SNAPSHOT[kind], seed=SNAPSHOT_SAMPLE_SEED)
    samples_path = run_dir / runs.SAMPLES_DIR / path.name.replace(".pt", ".png" if kind == "image" else ".pt")
    samples_path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "image":
        save_image_grid(samples, samples_path)
    else:
        runs.atomic_torch_save(samples, samples_path)
    return path


class StopSignals:
    """Record SIGTERM and SIGINT instead of dying on them, while active.

    Training checks ``received`` between iterations, saves a checkpoint and
    stops. Outside the main thread, where Python cannot install handlers,
    the signals keep their default behaviour.
    """

    HANDLED = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.received: int | None = None
        self.previous: dict[int, object] = {}

    def _handle(self, signal_number, frame) -> None:
        if self.received is None:
            logger.warning("received %s: saving a checkpoint and stopping after this iteration", signal.Signals(signal_number).name)
        self.received = signal_number

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for signal_number in self.HANDLED:
                self.previous[signal_number] = signal.signal(signal_number, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signal_number, handler in self.previous.items():
            signal.signal(signal_number, handler)


class TrainingMonitor:
    """Progress callback: progress bar, JSON-lines log, snapshots, resume checkpoints and stop requests."""

    def __init__(
        self,
        method: Method,
        run_dir: Path,
        run_config: dict,
        started: float,
        stop_signals: StopSignals,
        schedule: dict | None = None,
    ):
        training = run_config["training"]
        self.method = method
        self.run_dir = run_dir
        self.run_config = run_config
        self.snapshot_kimg = training["snapshot_kimg"]
        self.checkpoint_kimg = training.get("checkpoint_kimg") or self.snapshot_kimg
        self.log_interval = self.snapshot_kimg / LOG_LINES_PER_SNAPSHOT
        self.schedule = schedule or {
            "next_snapshot": self.snapshot_kimg,
            "next_checkpoint": self.checkpoint_kimg,
            "next_log": 0.0,
        }
        self.started = started
        self.stop_signals = stop_signals
        self.bar = tqdm(
            total=round(training["budget_kimg"], 3),
            initial=round(min(method.kimg, training["budget_kimg"]), 3),
            unit="kimg",
            desc=run_dir.name,
            mininterval=2.0,
            bar_format=PROGRESS_FORMAT,
        )
        self.log_handle = (run_dir / runs.TRAINING_LOG).open("a")

    def payload(self) -> dict:
        """Return the checkpoint contents: everything needed to continue exactly."""
        return {
            "method": self.method.state_dict(),
            "kimg": self.method.kimg,
            "counters": self.method.counters(),
            "random_states": capture_random_states(),
            "monitor": dict(self.schedule),
            "run_config": training_relevant(self.run_config),
        }

    @staticmethod
    def _next_multiple(kimg: float, interval: float) -> float:
        return (math.floor(kimg / interval) + 1) * interval

    def __call__(self, progress: TrainingProgress) -> None:
        kimg = progress.kimg
        self.bar.update(max(0.0, round(min(kimg, self.bar.total) - self.bar.n, 3)))
        self.bar.n = round(self.bar.n, 3)

        if kimg >= self.schedule["next_log"]:
            record = {
                "kimg": kimg,
                "d_steps": progress.d_steps,
                "g_steps": progress.g_steps,
                "wall_s": time.time() - self.started,
                **progress.losses,
            }
            self.log_handle.write(json.dumps(record) + "\n")
            self.log_handle.flush()
            self.schedule["next_log"] = kimg + self.log_interval

        # The schedule is advanced before saving, so that a run resumed from
        # this checkpoint does not take the same snapshot again.
        snapshot_due = kimg >= self.schedule["next_snapshot"]
        checkpoint_due = kimg >= self.schedule["next_checkpoint"] or self.stop_signals.received is not None
        if snapshot_due:
            self.schedule["next_snapshot"] = self._next_multiple(kimg, self.snapshot_kimg)
        if kimg >= self.schedule["next_checkpoint"]:
            self.schedule["next_checkpoint"] = self._next_multiple(kimg, self.checkpoint_kimg)

        if snapshot_due or checkpoint_due:
            payload = self.payload()
            if snapshot_due:
                save_snapshot(self.method, payload, self.run_dir)
            if checkpoint_due:
                save_resume_checkpoint(payload, self.run_dir)

        if self.stop_signals.received is not None:
            raise TrainingInterrupted(self.stop_signals.received, kimg)

    def close(self) -> None:
        self.bar.close()
        self.log_handle.close()


def write_provenance(run_dir: Path, provenance: dict) -> None:
    runs.atomic_write_text(run_dir / runs.PROVENANCE_FILE, json.dumps(provenance, indent=2) + "\n")


def read_provenance(run_dir: Path) -> dict | None:
    path = run_dir / runs.PROVENANCE_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        logger.warning("provenance file %s is not valid JSON; starting a new one", path)
        return None


def truncate_training_log(run_dir: Path, kimg: float) -> None:
    """Drop log lines written after the checkpoint at ``kimg`` by a killed process."""
    path = run_dir / runs.TRAINING_LOG
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("kimg", math.inf) <= kimg:
            kept.append(line)
    runs.atomic_write_text(path, "".join(f"{line}\n" for line in kept))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def train_run(run_config: dict, run_dir: Path, threads: int | None = None) -> str:
    """Train one run, or continue it, and write everything into ``run_dir``.

    Args:
        run_config: a resolved run config (``nats-bench resolve`` prints one).
        run_dir: the run folder; created if missing.
        threads: CPU threads for torch; ``None`` keeps torch's default.

    Returns:
        The final status: ``complete`` or ``diverged``.

    Raises:
        ConfigError: if the run config is invalid.
        RunFolderConflict: if ``run_dir`` contains a run with other settings;
            only ``budget_kimg`` may differ, which extends the run.
        TrainingInterrupted: on SIGTERM or SIGINT, after saving a checkpoint.
    """
    validate_run_config(run_config)
    run_dir = Path(run_dir)
    check_run_folder(run_config, run_dir)
    if threads is not None:
        torch.set_num_threads(threads)
    training = run_config["training"]
    performance_options = performance_settings(training)

    previous = read_provenance(run_dir) or {}
    final_path = run_dir / runs.FINAL_CHECKPOINT
    if final_path.is_file() and previous.get("status") in ("complete", "diverged"):
        if previous["status"] == "diverged" or previous.get("kimg", 0.0) >= training["budget_kimg"]:
            logger.info("run %s is already %s at %.2f kimg; nothing to do", run_dir, previous["status"], previous.get("kimg", 0.0))
            return previous["status"]

    device, gpu_claim = claim_device(training["device"])
    performance = Performance.for_device(performance_options, device)

    run_dir.mkdir(parents=True, exist_ok=True)
    latest = find_latest_checkpoint(run_dir, device)
    if latest is not None:
        differences = run_settings_conflicts(latest[1]["run_config"], run_config)
        if differences:
            raise RunFolderConflict(
                f"checkpoint {str(latest[0])!r} was written with other settings ({', '.join(differences)}); "
                "give this config another name, or move the old run folder away"
            )
    runs.atomic_write_text(run_dir / runs.CONFIG_FILE, yaml.safe_dump(run_config, sort_keys=False))

    started = time.time()
    sessions = list(previous.get("sessions", [])) if latest is not None else []
    session = {"started": _now(), "resumed_from_kimg": latest[1]["kimg"] if latest is not None else None}
    sessions.append(session)
    provenance = {
        "status": "running",
        **collect_provenance(device, performance_options, performance, gpu_claim),
        "sessions": sessions,
    }
    write_provenance(run_dir, provenance)

    dataset = run_config["dataset"]
    training_set = load_training_set(dataset["name"], dataset).to(device)
    method = build_method(run_config["method"], training_set, training["batch_size"], training["seed"], device, performance)

    stop_signals = StopSignals()
    if latest is None:
        (run_dir / runs.TRAINING_LOG).unlink(missing_ok=True)
        monitor = TrainingMonitor(method, run_dir, run_config, started, stop_signals)
        save_snapshot(method, monitor.payload(), run_dir)
        logger.info(
            "training %s on %s, seed %d, %.1f kimg on %s",
            run_config["method"]["name"], dataset["name"], training["seed"], training["budget_kimg"], device,
        )
    else:
        checkpoint_path, payload = latest
        method.load_state_dict(payload["method"])
        restore_random_states(payload["random_states"])
        truncate_training_log(run_dir, payload["kimg"])
        monitor = TrainingMonitor(method, run_dir, run_config, started, stop_signals, schedule=payload["monitor"])
        logger.info("resuming %s from %s at %.3f kimg, budget %.1f kimg", run_dir, checkpoint_path.name, method.kimg, training["budget_kimg"])

    status = "complete"
    try:
        with stop_signals:
            method.train(training["budget_kimg"], monitor)
    except TrainingDiverged as error:
        status = "diverged"
        provenance["error"] = str(error)
        logger.error("run %s diverged: %s", run_dir, error)
    except BaseException as error:
        provenance["status"] = "interrupted" if isinstance(error, (TrainingInterrupted, KeyboardInterrupt)) else "failed"
        provenance["error"] = f"{type(error).__name__}: {error}"
        raise
    finally:
        monitor.close()
        session.update(finished=_now(), wall_s=round(time.time() - started, 3))
        provenance.update(
            wall_s=round(sum(entry.get("wall_s", 0.0) for entry in sessions), 3),
            kimg=method.kimg,
            **method.counters(),
        )
        if provenance["status"] != "running":
            write_provenance(run_dir, provenance)

    if status == "complete":
        final_snapshot = runs.checkpoint_path(run_dir, method.kimg)
        if not final_snapshot.is_file():
            final_snapshot = save_snapshot(method, monitor.payload(), run_dir)
        runs.atomic_write_bytes(final_path, final_snapshot.read_bytes())
    else:
        # The diverged state is kept for inspection but is not a snapshot:
        # evaluation reads only the snapshots taken before the divergence.
        runs.atomic_torch_save({**monitor.payload(), "status": "diverged", "error": provenance["error"]}, final_path)

    provenance.update(status=status, finished=_now())
    write_provenance(run_dir, provenance)
    logger.info(
        "%s in %.1f s: %.2f kimg, %d D steps, %d G steps",
        status, provenance["wall_s"], method.kimg, method.d_steps, method.g_steps,
    )
    return status
