"""Training throughput of our methods against a plain PyTorch loop with the same passes.

For every method x architecture cell the script builds our method with
``nats.methods.build_method`` and, from the same settings, networks and
seed, a plain loop written directly in PyTorch that runs the same forward
and backward passes per iteration:

- wgan-gp, sngan: n_dis D steps (with the gradient penalty for wgan-gp)
  against fakes from G, then one G step.
- nats-wgan-gp, nats-sngan: for each of T levels, U D steps against the
  particles and one particle step along -grad l_G(D). Then K regression
  steps of G onto the particles.
- cfg, annealed-cfg: one xICFG stage: T x U D steps against fakes moved
  through the snapshots taken so far, N targets moved through all T
  snapshots, and ``approx_epochs`` epochs of regressing G~ onto them with a
  fresh RMSprop.

The plain loop leaves out what our methods add around those passes:
latents and data indices drawn on the CPU and copied to the device (which
keeps a seed's numbers the same on every device), losses read back with
``.item()`` for logging and divergence checks, counters and the learning-
rate cut of the approximator fit.

Both paths run ``--steps`` iterations per round, alternately, for
``--rounds`` rounds in one process, after ``--warmup`` untimed iterations
each. Throughput is real images shown to D per second (the kimg unit of the
grid), the median over rounds. The ratio is the median over rounds of ours
/ plain within a round, so 0.9 means our step is about 10% slower; pairing
within a round cancels most drift in machine load. Each cell prints one JSON line, and a table
follows at the end.

    PYTHONPATH=. .venv/bin/python benchmarks/training_throughput.py --device cpu --steps 2 --rounds 3 \\
        --batch-size 16 --g-width 32 --d-width 32 --set num_steps=3 num_targets=64 approx_epochs=2

Without ``--g-width``/``--d-width`` each architecture runs at the widths of
its first published configuration at the chosen resolution.
"""

import argparse
import copy
import json
import logging
import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import yaml
from tqdm import tqdm

from nats.config import resolve_run_config
from nats.defaults import METHOD_DEFAULTS
from nats.data import TrainingSet
from nats.methods import METHOD_HOSTS, build_method
from nats.networks import ARCHITECTURES, build_networks
from nats.schedules import annealing_weights

logger = logging.getLogger(__name__)

PAPER_ARCHITECTURES = tuple(name for name in ARCHITECTURES if name != "auto")
NETWORK_KEYS = ("z_dim", "g_width", "d_width", "g_batch_norm", "d_batch_norm")
SEED = 0


@dataclass(frozen=True)
class Cell:
    """One method on one architecture at one resolution."""

    method: str
    architecture: str
    resolution: int


def default_resolution(name: str) -> int:
    """Return the resolution of the first published configuration, else the first supported one."""
    architecture = ARCHITECTURES[name]
    return architecture.published[0].resolution if architecture.published else architecture.resolutions[0]


def parse_architecture(text: str) -> tuple[str, int]:
    """Parse ``NAME`` or ``NAME:RESOLUTION`` into an architecture and resolution."""
    name, _, side = text.partition(":")
    if name not in PAPER_ARCHITECTURES:
        raise argparse.ArgumentTypeError(f"unknown architecture {name!r}; expected one of {', '.join(PAPER_ARCHITECTURES)}")
    if not side:
        return name, default_resolution(name)
    supported = ARCHITECTURES[name].resolutions
    if not side.isdigit() or int(side) not in supported:
        raise argparse.ArgumentTypeError(f"{name} supports resolutions {supported}, got {side!r}")
    return name, int(side)


def parse_setting(text: str) -> tuple[str, object]:
    """Parse ``KEY=VALUE`` with the value read as YAML (numbers, booleans, strings)."""
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(value)


def method_settings(cell: Cell, args: argparse.Namespace) -> dict:
    """Resolve the method settings of a cell: defaults, published widths, then command-line overrides."""
    published = next(
        (entry for entry in ARCHITECTURES[cell.architecture].published if entry.resolution == cell.resolution), None
    )
    block = {key: published.settings[key] for key in NETWORK_KEYS} if published else {}
    if METHOD_HOSTS[cell.method] == "wgan-gp":
        # The gradient penalty is per sample, so the critic never has batch norm.
        block["d_batch_norm"] = False
    if args.g_width is not None:
        block["g_width"] = args.g_width
    if args.d_width is not None:
        block["d_width"] = args.d_width
    if args.z_dim is not None:
        block["z_dim"] = args.z_dim
    block.update({key: value for key, value in args.settings if key in METHOD_DEFAULTS[cell.method]})
    config = {"name": "throughput", "seeds": [SEED], "datasets": {"digits": {}}, "methods": {cell.method: block}}
    settings = resolve_run_config(config, "digits", cell.method, SEED)["method"]
    # Set after resolving, so that the script also runs where the config
    # does not know the architecture key yet.
    settings["architecture"] = cell.architecture
    return settings


def synthetic_training_set(resolution: int, channels: int, count: int, device: torch.device) -> TrainingSet:
    samples = torch.rand(count, channels, resolution, resolution, generator=torch.Generator().manual_seed(SEED)) * 2 - 1
    return TrainingSet("synthetic", "image", samples.to(device), {"resolution": resolution})


def images_per_iteration(method: str, settings: dict, batch_size: int) -> int:
    """Real images shown to D by one iteration of ``method``."""
    if METHOD_HOSTS[method] is None:
        return settings["num_steps"] * settings["d_updates"] * batch_size
    if method.startswith("nats-"):
        return settings["num_levels"] * settings["d_updates"] * batch_size
    return settings["n_dis"] * batch_size


class OursPath:
    """Our method, trained through its public ``train`` for whole iterations."""

    def __init__(self, cell: Cell, settings: dict, training_set: TrainingSet, batch_size: int, device: torch.device):
        self.model = build_method(settings, training_set, batch_size, SEED, device)
        self.images_per_iteration = images_per_iteration(cell.method, settings, batch_size)
        if hasattr(self.model, "initialise_approximator"):
            self.model.initialise_approximator()

    def run(self, iterations: int) -> int:
        """Train ``iterations`` iterations and return the real images shown to D."""
        shown_before = self.model.real_images_shown
        # Half an iteration of margin keeps the float comparison in train()
        # from running one iteration too many or too few.
        budget_kimg = (shown_before + (iterations - 0.5) * self.images_per_iteration) / 1000.0
        self.model.train(budget_kimg)
        done = self.model.real_images_shown - shown_before
        if done != iterations * self.images_per_iteration:
            raise RuntimeError(f"expected {iterations} iterations of {self.images_per_iteration} images, got {done} images")
        return done


class PlainPath:
    """The same passes as our method, written as a plain PyTorch loop."""

    def __init__(self, cell: Cell, settings: dict, training_set: TrainingSet, batch_size: int, device: torch.device):
        self.method = cell.method
        self.host = METHOD_HOSTS[cell.method]
        self.settings = settings
        self.samples = training_set.samples
        self.batch_size = batch_size
        self.device = device

        torch.manual_seed(SEED)
        self.generator, self.discriminator = build_networks(settings, training_set, spectral_norm=self.host == "sngan")
        self.generator.to(device)
        self.discriminator.to(device)

        if self.host is None:
            self.weights = annealing_weights(settings["schedule"], settings["num_steps"], settings["rho"])
            self.discriminator_optimizer = torch.optim.RMSprop(
                self.discriminator.parameters(), lr=settings["lr"], alpha=settings["rmsprop_alpha"]
            )
        else:
            betas = (settings["beta1"], settings["beta2"])
            self.generator_optimizer = torch.optim.Adam(self.generator.parameters(), lr=settings["lr_g"], betas=betas)
            self.discriminator_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=settings["lr_d"], betas=betas)
            if cell.method.startswith("nats-"):
                self.weights = annealing_weights(settings["schedule"], settings["num_levels"], settings["rho"])

    def latents(self, count: int) -> torch.Tensor:
        return torch.randn(count, self.settings["z_dim"], device=self.device)

    def real_batch(self) -> torch.Tensor:
        return self.samples[torch.randint(len(self.samples), (self.batch_size,), device=self.device)]

    def host_discriminator_step(self, fake: torch.Tensor) -> None:
        real = self.real_batch()
        scores_real = self.discriminator(real)
        scores_fake = self.discriminator(fake)
        if self.host == "sngan":
            loss = F.relu(1.0 - scores_real).mean() + F.relu(1.0 + scores_fake).mean()
        else:
            loss = scores_fake.mean() - scores_real.mean()
            mixing = torch.rand(real.shape[0], 1, 1, 1, device=self.device)
            interpolated = (mixing * real + (1.0 - mixing) * fake).requires_grad_(True)
            (gradient,) = torch.autograd.grad(self.discriminator(interpolated).sum(), interpolated, create_graph=True)
            loss = loss + self.settings["gp_weight"] * ((gradient.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
        self.discriminator_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.discriminator_optimizer.step()

    def alternating_iteration(self) -> int:
        for _ in range(self.settings["n_dis"]):
            with torch.no_grad():
                fake = self.generator(self.latents(self.batch_size))
            self.host_discriminator_step(fake)
        loss = -self.discriminator(self.generator(self.latents(self.batch_size))).mean()
        self.generator_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.generator_optimizer.step()
        return self.settings["n_dis"] * self.batch_size

    def nats_iteration(self) -> int:
        latents = self.latents(self.batch_size)
        with torch.no_grad():
            particles = self.generator(latents)
        for weight in self.weights:
            for _ in range(self.settings["d_updates"]):
                self.host_discriminator_step(particles)
            # Both hosts' generator loss is -D, so particles climb D.
            particles = self.ascend(particles, self.discriminator, self.settings["eta"] * weight)
        for _ in range(self.settings["g_regression_steps"]):
            loss = (self.generator(latents) - particles).pow(2).sum() / 2.0 / self.batch_size
            self.generator_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.generator_optimizer.step()
        return len(self.weights) * self.settings["d_updates"] * self.batch_size

    @staticmethod
    def ascend(samples: torch.Tensor, discriminator: torch.nn.Module, step_size: float) -> torch.Tensor:
        points = samples.detach().requires_grad_(True)
        was_training = discriminator.training
        discriminator.eval()
        (gradient,) = torch.autograd.grad(discriminator(points).sum(), points)
        discriminator.train(was_training)
        return (points + step_size * gradient).detach()

    def move_through(self, samples: torch.Tensor, snapshots: list[torch.nn.Module]) -> torch.Tensor:
        for index, snapshot in enumerate(snapshots):
            samples = self.ascend(samples, snapshot, self.settings["eta"] * self.weights[index])
        return samples

    def cfg_stage(self) -> int:
        settings = self.settings
        snapshots: list[torch.nn.Module] = []
        for _ in range(settings["num_steps"]):
            for _ in range(settings["d_updates"]):
                real = self.real_batch()
                with torch.no_grad():
                    fake = self.generator(self.latents(self.batch_size))
                fake = self.move_through(fake, snapshots)
                loss = F.softplus(-self.discriminator(real)).mean() + F.softplus(self.discriminator(fake)).mean()
                self.discriminator_optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.discriminator_optimizer.step()
            snapshot = copy.deepcopy(self.discriminator).eval()
            snapshot.requires_grad_(False)
            snapshots.append(snapshot)

        latents = self.latents(settings["num_targets"])
        targets = []
        for start in range(0, latents.shape[0], self.batch_size):
            with torch.no_grad():
                generated = self.generator(latents[start : start + self.batch_size])
            targets.append(self.move_through(generated, snapshots))
        targets = torch.cat(targets)

        optimizer = torch.optim.RMSprop(self.generator.parameters(), lr=settings["lr"], alpha=settings["rmsprop_alpha"])
        for _ in range(settings["approx_epochs"]):
            order = torch.randperm(latents.shape[0], device=self.device)
            for start in range(0, latents.shape[0], self.batch_size):
                indices = order[start : start + self.batch_size]
                loss = (self.generator(latents[indices]) - targets[indices]).pow(2).sum() / 2.0 / indices.shape[0]
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        return settings["num_steps"] * settings["d_updates"] * self.batch_size

    def run(self, iterations: int) -> int:
        """Run ``iterations`` iterations and return the real images shown to D."""
        if self.host is None:
            step = self.cfg_stage
        elif self.method.startswith("nats-"):
            step = self.nats_iteration
        else:
            step = self.alternating_iteration
        return sum(step() for _ in range(iterations))


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_rate(path, iterations: int, device: torch.device) -> float:
    """Return the real images per second of ``iterations`` iterations of ``path``."""
    synchronise(device)
    started = time.perf_counter()
    images = path.run(iterations)
    synchronise(device)
    return images / (time.perf_counter() - started)


def measure_cell(cell: Cell, args: argparse.Namespace, device: torch.device) -> dict:
    """Build both paths of a cell, warm them up and time them in alternating rounds."""
    settings = method_settings(cell, args)
    training_set = synthetic_training_set(cell.resolution, args.channels, args.num_images, device)
    ours = OursPath(cell, settings, training_set, args.batch_size, device)
    plain = PlainPath(cell, settings, training_set, args.batch_size, device)
    if args.warmup > 0:
        ours.run(args.warmup)
        plain.run(args.warmup)

    ours_rates, plain_rates = [], []
    for round_index in range(args.rounds):
        # Alternate which path goes first, so drift in machine load hits both alike.
        if round_index % 2 == 0:
            ours_rates.append(timed_rate(ours, args.steps, device))
            plain_rates.append(timed_rate(plain, args.steps, device))
        else:
            plain_rates.append(timed_rate(plain, args.steps, device))
            ours_rates.append(timed_rate(ours, args.steps, device))

    round_ratios = [ours_rate / plain_rate for ours_rate, plain_rate in zip(ours_rates, plain_rates)]
    return {
        "method": cell.method,
        "architecture": cell.architecture,
        "resolution": cell.resolution,
        "channels": args.channels,
        "g_width": settings["g_width"],
        "d_width": settings["d_width"],
        "z_dim": settings["z_dim"],
        "batch_size": args.batch_size,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "steps": args.steps,
        "rounds": args.rounds,
        "ours_images_per_s": statistics.median(ours_rates),
        "plain_images_per_s": statistics.median(plain_rates),
        "ratio": statistics.median(round_ratios),
        "ours_round_images_per_s": ours_rates,
        "plain_round_images_per_s": plain_rates,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")

    parser.add_argument("--methods", nargs="+", default=list(METHOD_HOSTS), choices=list(METHOD_HOSTS), help="methods to time")
    parser.add_argument(
        "--architectures",
        nargs="+",
        type=parse_architecture,
        default=[parse_architecture(name) for name in PAPER_ARCHITECTURES],
        help="architectures as NAME or NAME:RESOLUTION (default: each at the resolution of its first published configuration)",
    )

    parser.add_argument("--steps", type=int, default=2, help="iterations per timed round and path (a CFG iteration is one stage)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed iterations of each path before the rounds")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timed rounds per cell; the median counts")

    parser.add_argument("--batch-size", type=int, default=64, help="real and fake images per D step")
    parser.add_argument("--channels", type=int, default=3, help="image channels of the synthetic training set")
    parser.add_argument("--num-images", type=int, default=512, help="images in the synthetic training set")

    parser.add_argument("--g-width", type=int, default=None, help="g_width for every cell (default: the published width)")
    parser.add_argument("--d-width", type=int, default=None, help="d_width for every cell (default: the published width)")
    parser.add_argument("--z-dim", type=int, default=None, help="z_dim for every cell (default: the published size)")
    parser.add_argument(
        "--set",
        dest="settings",
        nargs="+",
        type=parse_setting,
        default=[],
        metavar="KEY=VALUE",
        help="method settings for every cell that has the key, e.g. num_steps=3 num_targets=64",
    )
    return parser


def format_table(records: list[dict]) -> str:
    header = "| method | architecture | ours images/s | plain images/s | ratio ours / plain |\n| --- | --- | --- | --- | --- |"
    rows = [
        f"| {record['method']} | {record['architecture']} {record['resolution']}x{record['resolution']} "
        f"| {record['ours_images_per_s']:.1f} | {record['plain_images_per_s']:.1f} | {record['ratio']:.3f} |"
        for record in records
    ]
    return "\n".join([header, *rows])


def main(argv: list[str] | None = None) -> list[dict]:
    """Time every requested cell, print a JSON line per cell and a table; return the records."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.steps < 1 or args.rounds < 1 or args.warmup < 0:
        raise SystemExit(f"--steps and --rounds must be >= 1 and --warmup >= 0, got {args.steps}, {args.rounds}, {args.warmup}")
    unknown = [key for key, _ in args.settings if not any(key in METHOD_DEFAULTS[method] for method in args.methods)]
    if unknown:
        raise SystemExit(f"--set keys {', '.join(unknown)} are settings of none of the methods {', '.join(args.methods)}; drop them, or add a method that has them")
    device = torch.device(args.device)
    if args.batch_size > args.num_images:
        raise SystemExit(f"--batch-size {args.batch_size} exceeds --num-images {args.num_images}; raise --num-images")

    cells = [Cell(method, name, resolution) for name, resolution in args.architectures for method in args.methods]
    logger.info(
        "timing %d cells on %s with %d threads: %d warm-up, %d rounds of %d iterations, batch %d",
        len(cells), device, torch.get_num_threads(), args.warmup, args.rounds, args.steps, args.batch_size,
    )
    records = []
    for cell in tqdm(cells, desc="cells", disable=None):
        record = measure_cell(cell, args, device)
        print(json.dumps(record), flush=True)
        records.append(record)

    print(format_table(records))
    return records


if __name__ == "__main__":
    main()
