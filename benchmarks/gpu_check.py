"""GPU check: train every method briefly with the performance options on.

Run on a machine with a CUDA GPU; it takes a few minutes with the defaults:

    PYTHONPATH=. python benchmarks/gpu_check.py

It prints, in order:

1. The device, torch and CUDA versions, and the GPU this process claimed.
2. Whether a second process finds that GPU locked (it should time out on a
   one-GPU machine).
3. The autocast checks: D's forward under the bf16 autocast of training
   gives bfloat16, while the gradient penalty and the functional-gradient
   step give the same float32 numbers inside and outside autocast. It also
   prints how far grad_x D and the penalty move when D runs in bfloat16,
   the errors the float32-only steps avoid.
4. One line per method: D steps, real images per second after a warm-up,
   peak GPU memory and wall time, trained on random 32x32 RGB images with
   bf16, channels-last and TF32 on (and ``torch.compile`` for the methods
   in ``--compile-methods``).

The exit status is 1 if a loss or sample is not finite or a check fails.
A smoke run of the script itself on a CPU, where every option is off and
the numbers say nothing about GPUs, takes about 20 s:

    PYTHONPATH=. .venv/bin/python benchmarks/gpu_check.py --device cpu --methods sngan \
        --compile-methods --d-steps 1 --warmup-d-steps 0
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from baselines.wgan_gp import gradient_penalty
from nats.config import resolve_run_config
from nats.data import TrainingSet
from nats.functional_gradient import functional_gradient_step
from nats.gpus import VISIBLE_DEVICES_VARIABLE, Performance
from nats.methods import METHOD_HOSTS, TrainingDiverged, build_method
from nats.training import claim_device

REPOSITORY = Path(__file__).resolve().parents[1]

# A second process that tries to claim a GPU for a few seconds.
CLAIM_PROBE = """
from nats.gpus import GpuClaimTimeout, claim_gpu
try:
    claim = claim_gpu(timeout_s=3.0)
    print("claimed GPU", claim.gpu if claim is not None else None)
except GpuClaimTimeout as error:
    print("timed out:", error)
"""


def synthetic_training_set(num_images: int, resolution: int, channels: int, device: torch.device) -> TrainingSet:
    """Return smooth random images in [-1, 1] on ``device``."""
    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand(num_images, channels, resolution // 4, resolution // 4, generator=generator) * 2 - 1
    images = torch.nn.functional.interpolate(coarse, size=(resolution, resolution), mode="bilinear", align_corners=False)
    return TrainingSet("synthetic", "image", images, {"resolution": resolution}).to(device)


def method_settings(method: str, architecture: str) -> dict:
    """Return the default settings of ``method`` with ``architecture``."""
    config = {"name": "gpu-check", "seeds": [0], "datasets": {"digits": {}}, "methods": {method: {"architecture": architecture}}}
    return resolve_run_config(config, "digits", method, 0)["method"]


def probe_claim() -> str:
    environment = {key: value for key, value in os.environ.items() if key != VISIBLE_DEVICES_VARIABLE}
    environment["PYTHONPATH"] = str(REPOSITORY)
    result = subprocess.run([sys.executable, "-c", CLAIM_PROBE], env=environment, capture_output=True, text=True, timeout=120)
    return (result.stdout.strip() or result.stderr.strip()[-500:]).replace("\n", " ")


def relative_error(approximate: torch.Tensor, exact: torch.Tensor) -> float:
    return ((approximate.float() - exact).norm() / exact.norm()).item()


def check_autocast(training_set: TrainingSet, architecture: str, device: torch.device) -> bool:
    """Print the autocast checks; return whether they pass."""
    performance = Performance(device, bf16=True)
    model = build_method(method_settings("wgan-gp", architecture), training_set, 64, 0, device, performance)
    real = model.real_batches.next()
    with torch.no_grad():
        fake = model.generator(model.latents(64))
    discriminator = model.discriminator

    with performance.autocast():
        autocast_dtype = discriminator(real).dtype
        penalty_in_autocast = gradient_penalty(discriminator, real, fake, torch.Generator().manual_seed(0))
        moved_in_autocast = functional_gradient_step(fake, discriminator, 0.5)
    penalty = gradient_penalty(discriminator, real, fake, torch.Generator().manual_seed(0))
    moved = functional_gradient_step(fake, discriminator, 0.5)

    points = fake.detach().requires_grad_(True)
    (gradient,) = torch.autograd.grad(discriminator(points).sum(), points)
    with performance.autocast():
        bf16_scores = discriminator(points)
    (bf16_gradient,) = torch.autograd.grad(bf16_scores.float().sum(), points)

    checks = {
        "D forward dtype under autocast": str(autocast_dtype),
        "penalty dtype": str(penalty_in_autocast.dtype),
        "penalty equal in and out of autocast": bool(torch.equal(penalty_in_autocast, penalty)),
        "functional step equal in and out of autocast": bool(torch.equal(moved_in_autocast, moved)),
        "relative error of grad_x D with D in bf16": round(relative_error(bf16_gradient, gradient), 5),
    }
    print(json.dumps({"autocast_checks": checks}))
    expected_dtype = "torch.bfloat16"
    return (
        checks["D forward dtype under autocast"] == expected_dtype
        and checks["penalty dtype"] == "torch.float32"
        and checks["penalty equal in and out of autocast"]
        and checks["functional step equal in and out of autocast"]
    )


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_method(method: str, options: dict, args, training_set: TrainingSet, device: torch.device) -> dict:
    """Train ``method`` for ``args.d_steps`` D steps after a warm-up and return its measurements."""
    performance = Performance.for_device(options, device)
    model = build_method(method_settings(method, args.architecture), training_set, args.batch_size, 0, device, performance)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    started = time.perf_counter()
    warmup_kimg = args.warmup_d_steps * args.batch_size / 1000
    if warmup_kimg > 0:
        model.train(warmup_kimg)
    synchronize(device)
    timed_from = time.perf_counter()
    images_before, d_steps_before = model.real_images_shown, model.d_steps
    model.train(model.kimg + args.d_steps * args.batch_size / 1000)
    synchronize(device)
    finished = time.perf_counter()

    samples = model.sample(256, seed=0, mode="generator")
    if not torch.isfinite(samples).all():
        raise TrainingDiverged(f"{method}: samples are not finite")
    return {
        "method": method,
        "compile": performance.compile,
        "bf16": performance.bf16,
        "d_steps": model.d_steps - d_steps_before,
        "images_per_s": round((model.real_images_shown - images_before) / (finished - timed_from), 1),
        "peak_memory_mib": round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None,
        "wall_s": round(finished - started, 2),
    }


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu", "auto"), help="training device (default: cuda)")
    parser.add_argument("--methods", nargs="+", default=list(METHOD_HOSTS), help="methods to train (default: all)")
    parser.add_argument("--compile-methods", nargs="*", default=["sngan"], help="methods also trained with torch.compile (default: sngan)")
    parser.add_argument("--architecture", default="auto", help="value of the architecture setting (default: auto)")
    parser.add_argument("--d-steps", type=int, default=300, help="timed D steps per method (default: 300)")
    parser.add_argument("--warmup-d-steps", type=int, default=30, help="untimed D steps before (default: 30)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    parser.add_argument("--resolution", type=int, default=32, help="image side in pixels (default: 32)")
    return parser.parse_args()


def main() -> int:
    args = parse_arguments()
    device, gpu_claim = claim_device(args.device)
    description = {"device": str(device), "torch": torch.__version__, "cuda": torch.version.cuda}
    if device.type == "cuda":
        description["gpu"] = torch.cuda.get_device_name(device)
        description["gpu_claim"] = gpu_claim.describe() if gpu_claim is not None else None
    print(json.dumps(description))

    failures = []
    if device.type == "cuda":
        print(json.dumps({"second_claim": probe_claim()}))
    training_set = synthetic_training_set(4096, args.resolution, 3, device)
    if not check_autocast(training_set, args.architecture, device):
        failures.append("autocast checks")

    options = {"bf16": True, "channels_last": True, "tf32": True, "compile": False}
    runs = [(method, options) for method in args.methods]
    runs += [(method, {**options, "compile": True}) for method in args.compile_methods]
    for method, run_options in runs:
        try:
            result = time_method(method, run_options, args, training_set, device)
        except TrainingDiverged as error:
            failures.append(f"{method}: {error}")
            print(json.dumps({"method": method, "compile": run_options["compile"], "error": str(error)}))
            continue
        print(json.dumps(result))
        if not math.isfinite(result["images_per_s"]):
            failures.append(f"{method}: throughput not finite")

    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
