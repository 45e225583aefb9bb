"""Throughput of our Inception evaluation against torch-fidelity called directly.

Both paths score the same generated and real images with the same metrics
(IS, FID, KID, precision/recall, torch-fidelity's ``inception-v3-compat``)
in the same process, alternately, so that load on the machine affects both
alike. Throughput is (generated + real images) per second of wall time. The
script also checks that the two paths return the same values.

    .venv/bin/python benchmarks/evaluation_throughput.py --num-images 128 --repeats 2

Without ``--weights`` a weights file of random values in the real format is
written to a temporary folder: throughput does not depend on the values, but
the metric values printed are then meaningless. On the CPU the images are far
fewer than the 2,048 an Inception FID needs in production, so the script
lowers that minimum through ``min_fid_samples``; pass ``--num-images 2048``
or more to keep it.
"""

import argparse
import logging
import tempfile
import time
from pathlib import Path

import torch
import torch_fidelity

from nats.metrics.adapter import to_fidelity_dataset
from nats.metrics.inception import FEATURE_EXTRACTOR, MIN_FID_SAMPLES, RNG_SEED, evaluate_inception
from nats.metrics.weights import write_random_torch_fidelity_weights


def synthetic_images(count: int, seed: int, resolution: int) -> torch.Tensor:
    """Return smooth random RGB images in [-1, 1], the input our evaluation takes."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, resolution // 4, resolution // 4, generator=generator) * 2 - 1
    return torch.nn.functional.interpolate(coarse, size=(resolution, resolution), mode="bilinear", align_corners=False)


def run_ours(generated, real, settings, weights_path, device, min_fid_samples) -> dict:
    values, _ = evaluate_inception(
        generated, real, settings, weights_path, reference_name="synthetic", device=device,
        cache_dir=None, min_fid_samples=min_fid_samples,
    )
    return {value.metric: value.value for value in values}


def run_torch_fidelity(generated, real, settings, weights_path, device) -> dict:
    return torch_fidelity.calculate_metrics(
        input1=to_fidelity_dataset(generated),
        input2=to_fidelity_dataset(real),
        isc=True,
        fid=True,
        kid=True,
        prc=True,
        feature_extractor=FEATURE_EXTRACTOR,
        feature_extractor_weights_path=str(weights_path),
        isc_splits=settings["is_splits"],
        kid_subsets=settings["kid_subsets"],
        kid_subset_size=settings["kid_subset_size"],
        prc_neighborhood=settings["prc_neighborhood"],
        batch_size=settings["batch_size"],
        rng_seed=RNG_SEED,
        cuda=torch.device(device).type == "cuda",
        cache=False,
        save_cpu_ram=True,
        verbose=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=128, help="generated images, and as many real ones")
    parser.add_argument("--resolution", type=int, default=32, help="image side in pixels before Inception's resize")
    parser.add_argument("--batch-size", type=int, default=64, help="images per forward pass")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each path, alternating")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--weights", type=Path, default=None, help="torch-fidelity Inception weights (default: random)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    settings = {
        "num_generated": args.num_images,
        "reference_split": "train",
        "is_splits": 10,
        "kid_subsets": 10,
        "kid_subset_size": min(1000, args.num_images),
        "prc_neighborhood": 3,
        "density_coverage": False,
        "batch_size": args.batch_size,
    }
    generated = synthetic_images(args.num_images, seed=0, resolution=args.resolution)
    real = synthetic_images(args.num_images, seed=1, resolution=args.resolution)
    min_fid_samples = min(MIN_FID_SAMPLES, args.num_images)

    with tempfile.TemporaryDirectory() as folder:
        weights_path = args.weights or write_random_torch_fidelity_weights(Path(folder) / "inception.pth")
        print(
            f"{args.num_images} generated + {args.num_images} real images, {args.resolution}px, batch {args.batch_size}, "
            f"device {args.device}, {torch.get_num_threads()} threads, weights {'given' if args.weights else 'random'}"
        )
        ours_seconds, direct_seconds = [], []
        for repeat in range(args.repeats):
            started = time.perf_counter()
            ours = run_ours(generated, real, settings, weights_path, args.device, min_fid_samples)
            ours_seconds.append(time.perf_counter() - started)

            started = time.perf_counter()
            direct = run_torch_fidelity(generated, real, settings, weights_path, args.device)
            direct_seconds.append(time.perf_counter() - started)
            print(f"run {repeat + 1}: ours {ours_seconds[-1]:.2f} s, torch-fidelity {direct_seconds[-1]:.2f} s")

    fid_name = next(name for name in ours if name.startswith("fid"))
    print(f"FID ours {ours[fid_name]:.6g}, torch-fidelity {direct[torch_fidelity.KEY_METRIC_FID]:.6g}")
    total_images = 2 * args.num_images
    ours_rate = total_images / min(ours_seconds)
    direct_rate = total_images / min(direct_seconds)
    print(f"ours: {ours_rate:.2f} images/s (best of {args.repeats})")
    print(f"torch-fidelity: {direct_rate:.2f} images/s (best of {args.repeats})")
    print(f"ratio ours / torch-fidelity: {ours_rate / direct_rate:.3f}")


if __name__ == "__main__":
    main()
