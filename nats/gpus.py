"""GPU choice and performance options of a training process.

Two parts:

- ``claim_gpu`` gives each training process a GPU of its own when several
  jobs share one machine. Snakemake does not assign GPU ids, so every job
  takes an exclusive lock file per GPU and restricts itself to the first
  free one through ``CUDA_VISIBLE_DEVICES``, before CUDA is initialised.
- ``Performance`` applies the options of ``training.performance`` (bf16
  autocast, channels-last memory format, TF32, ``torch.compile``) on CUDA.
  On a CPU every option is off, so CPU runs keep their numbers bit for bit.

Numerically delicate steps run outside autocast in float32 whatever the
options: the gradient penalty, the functional-gradient steps, the
regression of G onto moved samples and every loss reduction. The functions
that compute the first three enter ``autocast_disabled`` themselves, and
losses are reduced from scores cast to float32 outside autocast.
"""

import fcntl
import getpass
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from nats.config import ConfigError
from nats.defaults import PERFORMANCE_DEFAULTS

logger = logging.getLogger(__name__)

LOCK_DIR_VARIABLE = "NATS_GPU_LOCK_DIR"
NUM_GPUS_VARIABLE = "NATS_NUM_GPUS"
WAIT_VARIABLE = "NATS_GPU_WAIT_S"
VISIBLE_DEVICES_VARIABLE = "CUDA_VISIBLE_DEVICES"

# How often a process waiting for a GPU retries the locks and logs that it waits.
POLL_INTERVAL_S = 1.0
WAIT_LOG_INTERVAL_S = 300.0

# Prefix that torch.compile's OptimizedModule puts before every state-dict key.
COMPILED_PREFIX = "_orig_mod."


class GpuClaimTimeout(TimeoutError):
    """Every GPU stayed locked by other processes for longer than the wait limit."""


def performance_settings(training: dict) -> dict:
    """Return the ``performance`` block of a run config's training block, defaults filled in.

    Run configs written before the block existed have none; they get
    ``PERFORMANCE_DEFAULTS``.

    Args:
        training: the ``training`` block of a resolved run config.

    Returns:
        A dict with the boolean keys ``bf16``, ``channels_last``, ``tf32`` and ``compile``.

    Raises:
        ConfigError: for an unknown key or a value that is not a boolean.
    """
    block = training.get("performance") or {}
    if not isinstance(block, dict):
        raise ConfigError(f"training.performance must be a mapping, got {block!r}")
    unknown = sorted(set(block) - set(PERFORMANCE_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"training.performance has unknown keys {', '.join(unknown)}; expected some of {', '.join(PERFORMANCE_DEFAULTS)}"
        )
    settings = {**PERFORMANCE_DEFAULTS, **block}
    for key, value in settings.items():
        if not isinstance(value, bool):
            raise ConfigError(f"training.performance.{key} must be true or false, got {value!r}")
    return settings


def autocast_disabled(device_type: str):
    """Return a context that turns autocast off for ``device_type``, so the block runs in float32.

    Inputs that an enclosing autocast region produced in bfloat16 stay
    bfloat16; callers cast them with ``.float()``.
    """
    return torch.autocast(device_type=device_type, enabled=False)


def set_tf32(enabled: bool) -> None:
    """Allow or forbid TF32 in CUDA matrix products and cuDNN convolutions, process-wide."""
    # The allow_tf32 flags, not the newer fp32_precision settings: after
    # matmul.fp32_precision = "tf32", reading matmul.allow_tf32 raises (torch
    # 2.14), and other libraries still read it.
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def strip_compile_prefix(state: dict) -> dict:
    """Return a module state dict without the ``_orig_mod.`` prefix of a compiled module's keys."""
    return {key[len(COMPILED_PREFIX) :] if key.startswith(COMPILED_PREFIX) else key: value for key, value in state.items()}


def underlying_module(module: nn.Module) -> nn.Module:
    """Return the module that ``torch.compile`` wrapped, or ``module`` itself if it is not compiled."""
    return getattr(module, "_orig_mod", module)


class Performance:
    """The performance options in effect for one method on one device.

    The constructor applies the options as given, on any device, which
    tests use to exercise them on a CPU. Training builds it with
    ``for_device``, which turns every option off unless the device is a GPU.

    Args:
        device: where the networks run.
        bf16: run the forward passes that tolerate it under bfloat16 autocast.
        channels_last: store image networks and batches in NHWC order.
        compile: run G and D forwards through ``torch.compile``.
        compile_backend: the ``torch.compile`` backend.
    """

    def __init__(
        self,
        device: torch.device | str = "cpu",
        bf16: bool = False,
        channels_last: bool = False,
        compile: bool = False,
        compile_backend: str = "inductor",
    ):
        self.device = torch.device(device)
        self.bf16 = bf16
        self.channels_last = channels_last
        self.compile = compile
        self.compile_backend = compile_backend
        self.tf32: bool | None = None
        self._compiled: dict[int, tuple[nn.Module, nn.Module]] = {}

    @classmethod
    def for_device(cls, settings: dict, device: torch.device) -> "Performance":
        """Build the options of ``settings`` for ``device``; on a CPU all are off.

        On CUDA this also allows or forbids TF32 process-wide, following ``settings["tf32"]``.

        Args:
            settings: a dict returned by ``performance_settings``.
            device: the training device.

        Raises:
            ConfigError: if bf16 is requested on a GPU without native bfloat16.
        """
        if device.type != "cuda":
            return cls(device)
        if settings["bf16"] and not torch.cuda.is_bf16_supported(including_emulation=False):
            raise ConfigError(
                f"training.performance.bf16 is true but {torch.cuda.get_device_name(device)} has no native bfloat16; "
                "set it to false"
            )
        set_tf32(settings["tf32"])
        performance = cls(device, bf16=settings["bf16"], channels_last=settings["channels_last"], compile=settings["compile"])
        performance.tf32 = settings["tf32"]
        return performance

    def autocast(self):
        """Return the context for forward passes that may run in bfloat16.

        Put only forward passes inside it. A backward pass run inside an
        enabled autocast region recasts its matrix products too (seen with
        torch 2.14 on a CPU).
        """
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def format_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Return an image batch in channels-last order when that option is on; other batches unchanged."""
        if self.channels_last and batch.dim() == 4:
            return batch.contiguous(memory_format=torch.channels_last)
        return batch

    def prepare_network(self, network: nn.Module) -> nn.Module:
        """Convert the 4D weights of ``network`` to channels-last in place when that option is on."""
        if self.channels_last:
            network.to(memory_format=torch.channels_last)
        return network

    def forward(self, network: nn.Module) -> nn.Module:
        """Return the callable that runs ``network``: a cached compiled wrapper, or the network.

        Methods keep the plain networks as attributes, so state dicts,
        optimizers and D snapshots never see the wrapper. The gradient
        penalty calls the plain critic, because compiled graphs do not
        support the double backward it needs (torch 2.14 raises on it).
        """
        if not self.compile:
            return network
        entry = self._compiled.get(id(network))
        if entry is None or entry[0] is not network:
            entry = (network, torch.compile(network, backend=self.compile_backend))
            self._compiled[id(network)] = entry
        return entry[1]

    def describe(self) -> dict:
        """Return the options in effect, for provenance."""
        return {
            "bf16_autocast": self.bf16,
            "channels_last": self.channels_last,
            "tf32": self.tf32,
            "compile": self.compile,
            "compile_backend": self.compile_backend if self.compile else None,
        }


@dataclass
class GpuClaim:
    """The GPU a process uses, and the lock that keeps other jobs off it.

    Attributes:
        gpu: the GPU's entry for ``CUDA_VISIBLE_DEVICES`` (an index or a UUID).
        source: ``"environment"`` if ``CUDA_VISIBLE_DEVICES`` already named
            one GPU (as SLURM sets it), ``"lock"`` if this process locked it.
        lock_path: the lock file held, or ``None``.
    """

    gpu: str
    source: str
    lock_path: Path | None = None
    _handle: int | None = field(default=None, repr=False)

    def release(self) -> None:
        """Release the lock. ``CUDA_VISIBLE_DEVICES`` keeps naming the claimed GPU."""
        global _ACTIVE_CLAIM
        if self._handle is not None:
            os.close(self._handle)
            self._handle = None
        if _ACTIVE_CLAIM is self:
            _ACTIVE_CLAIM = None

    def describe(self) -> dict:
        """Return the claim as plain values, for provenance."""
        return {"gpu": self.gpu, "source": self.source, "lock_file": str(self.lock_path) if self.lock_path else None}


# The claim of this process, kept so its lock file stays open for the process lifetime.
_ACTIVE_CLAIM: GpuClaim | None = None


def default_lock_dir() -> Path:
    """Return the lock folder: ``$NATS_GPU_LOCK_DIR``, else a per-user folder under the system temp dir."""
    configured = os.environ.get(LOCK_DIR_VARIABLE)
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"nats-gpu-locks-{getpass.getuser()}"


def count_gpus() -> int:
    """Count the machine's GPUs without initialising CUDA in this process.

    The CUDA driver reads ``CUDA_VISIBLE_DEVICES`` once, when it is
    initialised, and ``torch.cuda.device_count`` initialises it whenever
    NVML fails. So the count comes from ``nvidia-smi -L``, which lists
    every physical GPU, or where that is missing from
    ``torch.cuda.device_count`` in a child process.

    Returns:
        The number of GPUs; 0 when torch is built without CUDA or no GPU is found.
    """
    if not torch.backends.cuda.is_built():
        return 0
    if shutil.which("nvidia-smi"):
        try:
            listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError) as error:
            logger.warning("nvidia-smi -L failed (%s); counting GPUs with torch in a child process", error)
        else:
            return sum(1 for line in listing.splitlines() if line.startswith("GPU "))
    environment = {key: value for key, value in os.environ.items() if key != VISIBLE_DEVICES_VARIABLE}
    result = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.cuda.device_count())"],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    if result.returncode != 0:
        logger.warning("counting GPUs with torch failed: %s", result.stderr.strip()[-500:])
        return 0
    return int(result.stdout.strip().splitlines()[-1])


def _candidate_gpus(num_gpus: int | None) -> list[str]:
    visible = os.environ.get(VISIBLE_DEVICES_VARIABLE)
    if visible is not None:
        return [entry.strip() for entry in visible.split(",") if entry.strip()]
    if num_gpus is None and os.environ.get(NUM_GPUS_VARIABLE):
        try:
            num_gpus = int(os.environ[NUM_GPUS_VARIABLE])
        except ValueError:
            raise ValueError(f"{NUM_GPUS_VARIABLE}={os.environ[NUM_GPUS_VARIABLE]!r} is not a whole number; unset it or give a count") from None
    if num_gpus is None:
        num_gpus = count_gpus()
    if num_gpus < 0:
        raise ValueError(f"the number of GPUs must be at least 0, got {num_gpus}")
    return [str(index) for index in range(num_gpus)]


def _lock_path(lock_dir: Path, gpu: str) -> Path:
    return lock_dir / f"gpu-{re.sub(r'[^A-Za-z0-9_.-]', '_', gpu)}.lock"


def _try_lock(path: Path) -> int | None:
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        return None
    os.ftruncate(handle, 0)
    os.write(handle, f"{os.getpid()}\n".encode())
    return handle


def _lock_holders(lock_dir: Path, candidates: list[str]) -> str:
    holders = []
    for gpu in candidates:
        try:
            pid = _lock_path(lock_dir, gpu).read_text().strip()
        except OSError:
            pid = ""
        holders.append(f"GPU {gpu}: pid {pid or 'unknown'}")
    return ", ".join(holders)


def claim_gpu(
    num_gpus: int | None = None,
    lock_dir: Path | str | None = None,
    timeout_s: float | None = None,
) -> GpuClaim | None:
    """Give this process a GPU of its own, before anything initialises CUDA.

    If ``CUDA_VISIBLE_DEVICES`` names exactly one device (SLURM sets it so)
    the process keeps it. Otherwise the candidates are the devices it names,
    or all GPUs of the machine, and the process takes an exclusive
    ``flock`` on ``gpu-<id>.lock`` in the lock folder for the first free one.
    The lock stays held until the process exits or ``release`` is called.
    Then ``CUDA_VISIBLE_DEVICES`` is set to that GPU, so torch addresses it
    as ``cuda:0``. When every GPU is locked, it waits and logs that it waits.
    A second call in the same process returns the first claim.

    Args:
        num_gpus: number of GPUs to choose from; ``None`` reads
            ``$NATS_NUM_GPUS``, else counts them with ``count_gpus``.
            Ignored when ``CUDA_VISIBLE_DEVICES`` is set.
        lock_dir: lock folder; ``None`` means ``default_lock_dir()``.
        timeout_s: longest wait for a free GPU in seconds; ``None`` reads
            ``$NATS_GPU_WAIT_S``, else waits without limit.

    Returns:
        The claim, or ``None`` if the process sees no GPU.

    Raises:
        GpuClaimTimeout: if no GPU became free within ``timeout_s``.
    """
    global _ACTIVE_CLAIM
    if _ACTIVE_CLAIM is not None:
        return _ACTIVE_CLAIM

    candidates = _candidate_gpus(num_gpus)
    if not candidates:
        return None
    if len(candidates) == 1 and os.environ.get(VISIBLE_DEVICES_VARIABLE) is not None:
        logger.info("using GPU %s from %s", candidates[0], VISIBLE_DEVICES_VARIABLE)
        _ACTIVE_CLAIM = GpuClaim(candidates[0], "environment")
        return _ACTIVE_CLAIM
    if torch.cuda.is_initialized():
        # NOTE: the driver has read CUDA_VISIBLE_DEVICES already, so changing it now would not take effect.
        logger.warning("CUDA was initialised before a GPU was claimed; this process uses torch's current device unlocked")
        return None

    if timeout_s is None and os.environ.get(WAIT_VARIABLE):
        try:
            timeout_s = float(os.environ[WAIT_VARIABLE])
        except ValueError:
            raise ValueError(f"{WAIT_VARIABLE}={os.environ[WAIT_VARIABLE]!r} is not a number of seconds; unset it or give one") from None
    lock_dir = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    lock_dir.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    next_log = started
    while True:
        for gpu in candidates:
            path = _lock_path(lock_dir, gpu)
            handle = _try_lock(path)
            if handle is not None:
                os.environ[VISIBLE_DEVICES_VARIABLE] = gpu
                logger.info("claimed GPU %s (lock %s)", gpu, path)
                _ACTIVE_CLAIM = GpuClaim(gpu, "lock", path, handle)
                return _ACTIVE_CLAIM

        waited = time.monotonic() - started
        if timeout_s is not None and waited >= timeout_s:
            raise GpuClaimTimeout(
                f"timed out after {waited:.0f} s waiting for a free GPU: all {len(candidates)} are locked in "
                f"{lock_dir} ({_lock_holders(lock_dir, candidates)}); run fewer jobs at once, or raise {WAIT_VARIABLE}"
            )
        if time.monotonic() >= next_log:
            logger.warning("all %d GPUs are in use (locks in %s); waiting for one to become free", len(candidates), lock_dir)
            next_log = time.monotonic() + WAIT_LOG_INTERVAL_S
        time.sleep(POLL_INTERVAL_S if timeout_s is None else min(POLL_INTERVAL_S, max(0.05, timeout_s - waited)))
