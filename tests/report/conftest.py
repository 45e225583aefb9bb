"""A small results tree with known metric values, written the way evaluation writes it.

At the final checkpoint (kimg 20) a run's value is ``BASE_VALUES[...] + seed``,
so over seeds 0, 1, 2 every cell has mean ``base + 1``, sample std 1 and
n 3. Earlier checkpoints add ``0.5 * (20 - kimg)``, so a table that picks a
wrong checkpoint gets a wrong mean.
"""

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

CONFIG_NAME = "smoke"
SEEDS = (0, 1, 2)
CHECKPOINT_KIMGS = (0.0, 10.0, 20.0)
FINAL_KIMG = 20.0
SAMPLE_MODES = {"cfg": ("refined", "generator"), "sngan": ("generator",)}

# (metric, higher_is_better) per dataset, as the evaluators name them.
METRICS = {
    "digits": [("fd2k_digits", False), ("cs2k_s10", True), ("precision2k_k3", True), ("recall2k_k3", True)],
    "ring8": [("modes2.5k", True), ("hq2.5k", True), ("rkl2.5k", False)],
    "grid25": [("modes2.5k", True), ("hq2.5k", True), ("rkl2.5k", False)],
}

# Value at the final checkpoint for seed 0, per (method, sample mode, metric).
# fd2k_digits (lower is better) is best for sngan, cs2k_s10 (higher is
# better) for cfg refined.
BASE_VALUES = {
    ("cfg", "refined", "fd2k_digits"): 10.0,
    ("cfg", "generator", "fd2k_digits"): 20.0,
    ("sngan", "generator", "fd2k_digits"): 5.0,
    ("cfg", "refined", "cs2k_s10"): 8.0,
    ("cfg", "generator", "cs2k_s10"): 6.0,
    ("sngan", "generator", "cs2k_s10"): 4.0,
}


def base_value(method: str, sample_mode: str, metric: str) -> float:
    if (method, sample_mode, metric) in BASE_VALUES:
        return BASE_VALUES[(method, sample_mode, metric)]
    labels = [(method_name, mode) for method_name, modes in SAMPLE_MODES.items() for mode in modes]
    return 2.0 + labels.index((method, sample_mode)) + 0.1 * len(metric)


# Like the evaluator's records, a protocol stores the sample mode (part of
# the id) and the generation seed (training seed plus an offset, left out of
# the id so that seeds of one method share it).
RUN_SPECIFIC_PROTOCOL_KEYS = ("generation_seed",)
GENERATION_SEED_OFFSET = 1000


def make_protocol(dataset: str, metric: str, sample_mode: str, num_generated: int = 2000, seed: int = 0) -> dict:
    return {
        "metric": metric,
        "extractor": {"name": f"{dataset}-features", "sha256": "0" * 64},
        "num_generated": num_generated,
        "sample_mode": sample_mode,
        "generation_seed": seed + GENERATION_SEED_OFFSET,
        "library_versions": ["torch-fidelity 0.4.0"],
    }


def protocol_hash(protocol: dict) -> str:
    shared = {key: value for key, value in protocol.items() if key not in RUN_SPECIFIC_PROTOCOL_KEYS}
    return hashlib.sha256(json.dumps(shared, sort_keys=True).encode()).hexdigest()[:12]


def make_record(dataset: str, method: str, seed: int, kimg: float, sample_mode: str, metric: str,
                higher_is_better: bool, value: float, protocol: dict | None = None) -> dict:
    protocol = protocol if protocol is not None else make_protocol(dataset, metric, sample_mode, seed=seed)
    return {
        "config_name": CONFIG_NAME,
        "dataset": dataset,
        "method": method,
        "seed": seed,
        "checkpoint": f"kimg{int(kimg):06d}",
        "kimg": kimg,
        "d_steps": int(kimg * 100),
        "g_steps": int(kimg * 20),
        "sample_mode": sample_mode,
        "metric": metric,
        "value": value,
        "higher_is_better": higher_is_better,
        "std": None,
        "protocol": protocol,
        "protocol_id": protocol_hash(protocol),
    }


def run_records(dataset: str, method: str, seed: int) -> list[dict]:
    records = []
    for kimg in CHECKPOINT_KIMGS:
        for sample_mode in SAMPLE_MODES[method]:
            for metric, higher_is_better in METRICS[dataset]:
                value = base_value(method, sample_mode, metric) + seed + 0.5 * (FINAL_KIMG - kimg)
                records.append(make_record(dataset, method, seed, kimg, sample_mode, metric, higher_is_better, value))
    return records


def write_metrics_file(runs_dir: Path, dataset: str, method: str, seed: int, records: list[dict]) -> Path:
    run_dir = runs_dir / dataset / method / f"seed{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "metrics.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def write_samples_file(runs_dir: Path, dataset: str, method: str, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    arrays = {}
    for sample_mode in SAMPLE_MODES[method]:
        if dataset == "digits":
            arrays[sample_mode] = rng.uniform(-1.0, 1.0, size=(100, 1, 16, 16)).astype(np.float32)
        else:
            arrays[sample_mode] = rng.normal(0.0, 2.0, size=(2500, 2)).astype(np.float32)
    path = runs_dir / dataset / method / f"seed{seed}" / "samples.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def write_results_tree(runs_dir: Path, seeds=SEEDS, with_samples: bool = True) -> Path:
    for dataset in METRICS:
        for method in SAMPLE_MODES:
            for seed in seeds:
                write_metrics_file(runs_dir, dataset, method, seed, run_records(dataset, method, seed))
                if with_samples:
                    write_samples_file(runs_dir, dataset, method, seed)
    return runs_dir


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """A results/<config>/runs folder with 3 datasets x 2 methods x 3 seeds."""
    return write_results_tree(tmp_path / "results" / CONFIG_NAME / "runs")


@pytest.fixture
def metrics_csv(runs_dir: Path) -> Path:
    """The tidy table of ``runs_dir``, written by the real aggregation."""
    from nats.report import aggregate_metrics

    out_csv = runs_dir.parent / "metrics.csv"
    aggregate_metrics(runs_dir, out_csv)
    return out_csv


@pytest.fixture(scope="session")
def fake_results():
    """The helpers above, for tests that write their own records."""
    return SimpleNamespace(
        make_record=make_record,
        make_protocol=make_protocol,
        protocol_hash=protocol_hash,
        run_records=run_records,
        write_metrics_file=write_metrics_file,
        write_samples_file=write_samples_file,
        write_results_tree=write_results_tree,
    )
