"""The Snakemake workflow on an image dataset: CIFAR-10 files, paper nets, Inception protocols.

The dataset is a tiny CIFAR-10 written in its real on-disk format. The
Inception weights are files of random values in the libraries' formats, so
the numbers mean nothing. The test checks that every step of a paper-style
grid runs and records what it should.
"""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nats.metrics.weights import write_random_cleanfid_weights, write_random_torch_fidelity_weights
from tests.data.image_files import CIFAR10_BATCH_SIZES, write_cifar10

REPO_DIR = Path(__file__).resolve().parents[1]
METHODS = ("annealed-cfg", "sngan")


def image_grid_config(tmp_path: Path) -> dict:
    data_root = tmp_path / "data"
    write_cifar10(data_root)
    return {
        "name": "tiny-images",
        "seeds": [0],
        "device": "cpu",
        "datasets": {
            "cifar10": {
                "data_root": str(data_root), "download": False,
                "batch_size": 4, "budget_kimg": 0.024, "snapshot_kimg": 0.012,
            },
        },
        "methods": {
            "annealed-cfg": {
                "architecture": "cfg-dcgan", "z_dim": 8, "g_width": 8, "d_width": 8,
                "num_steps": 2, "num_targets": 8, "approx_epochs": 1, "init_fit_steps": 2,
            },
            "sngan": {"architecture": "sngan-resnet", "z_dim": 8, "g_width": 8, "d_width": 8, "n_dis": 1},
        },
        "evaluation": {
            "inception": {
                "num_generated": 16, "is_splits": 2, "kid_subsets": 2, "kid_subset_size": 4,
                "metrics": ["is", "kid", "prc"],
            },
            "legacy": {"num_generated": 16, "kid_subsets": 2, "kid_subset_size": 4, "metrics": ["kid"]},
            "images": {"protocols": ["inception", "legacy"]},
            "inception_weights": {
                "torch_fidelity": str(write_random_torch_fidelity_weights(tmp_path / "weights" / "torch-fidelity.pth")),
                "clean_fid": str(write_random_cleanfid_weights(tmp_path / "weights" / "clean-fid.pt")),
            },
        },
    }


def run_snakemake(tmp_path: Path, config_file: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO_DIR / "Snakefile"), "--directory", str(tmp_path),
         "--configfile", str(config_file), *arguments],
        cwd=tmp_path, capture_output=True, text=True, timeout=1800,
    )


def job_logs(results_dir: Path) -> str:
    return "\n".join(f"--- {path}\n{path.read_text()[-3000:]}" for path in sorted(results_dir.rglob("*.log")))


@pytest.mark.slow
def test_image_grid_runs_end_to_end(tmp_path):
    config_file = tmp_path / "tiny-images.yaml"
    config_file.write_text(yaml.safe_dump(image_grid_config(tmp_path)))
    results_dir = tmp_path / "results" / "tiny-images"

    result = run_snakemake(tmp_path, config_file, "--cores", "2")

    assert result.returncode == 0, result.stderr[-4000:] + job_logs(results_dir / "logs")
    manifest = json.loads((results_dir / "datasets" / "cifar10.json").read_text())
    assert manifest["num_images"] == sum(CIFAR10_BATCH_SIZES)

    metrics = pd.read_csv(results_dir / "metrics.csv")
    assert set(metrics["method"]) == set(METHODS)
    assert {"is16_s2", "kid16", "precision16_k3", "recall16_k3", "legacykid16"} <= set(metrics["metric"])
    assert metrics["kimg"].nunique() == 1, "only the final checkpoint is scored"

    for method in METHODS:
        run_dir = results_dir / "runs" / "cifar10" / method / "seed0"
        records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        protocol = records[0]["protocol"]
        assert protocol["reference_path"] == str(tmp_path / "data")
        assert protocol["num_real"] == sum(CIFAR10_BATCH_SIZES)
        assert protocol["reference"] == "cifar10-train-32px"
        config = yaml.safe_load((run_dir / "config.yaml").read_text())
        assert config["method"]["architecture"] in ("cfg-dcgan", "sngan-resnet")

    assert "cifar10" in (results_dir / "tables" / "main.md").read_text()
    assert list((results_dir / "plots" / "samples").glob("cifar10_*.png"))
