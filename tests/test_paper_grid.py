"""The paper-scale grid: config/paper.yaml, its dry run, and the cluster profiles."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nats.config import load_config, resolve_run_config

REPO_DIR = Path(__file__).resolve().parents[1]
PAPER_CONFIG = REPO_DIR / "config" / "paper.yaml"
SLURM_PROFILE = REPO_DIR / "workflow" / "profiles" / "slurm"
LOCAL_GPU_PROFILE = REPO_DIR / "workflow" / "profiles" / "local-gpu"
PAPER_DATASETS = ("cifar10", "stl10", "celeba", "lsun-church", "mnist", "svhn")
METHODS = ("cfg", "annealed-cfg", "wgan-gp", "sngan", "nats-wgan-gp", "nats-sngan")
NUM_SEEDS = 5


def dry_run(tmp_path: Path, *arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO_DIR / "Snakefile"), "--directory", str(tmp_path),
         "--dry-run", "--configfile", str(PAPER_CONFIG), *arguments],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def job_counts(output: str) -> dict[str, int]:
    counts = {}
    for line in output.splitlines():
        match = re.fullmatch(r"\s*([A-Za-z_][\w-]*)\s+(\d+)\s*", line)
        if match and match[1] != "total":
            counts[match[1]] = int(match[2])
    return counts


def job_blocks(output: str, rule: str) -> list[str]:
    """Return the dry run's description block of every job of ``rule``."""
    blocks = re.split(r"\n(?=(?:localrule|rule) )", output)
    return [block for block in blocks if re.match(rf"(?:localrule|rule) {re.escape(rule)}:", block)]


@pytest.fixture(scope="module")
def paper_config() -> dict:
    return load_config(PAPER_CONFIG)


def test_paper_grid_covers_datasets_methods_seeds(paper_config):
    assert tuple(paper_config["datasets"]) == PAPER_DATASETS
    assert set(paper_config["methods"]) == set(METHODS)
    assert len(paper_config["seeds"]) == NUM_SEEDS
    assert paper_config["evaluation"]["images"]["protocols"][0] == "inception"


@pytest.mark.parametrize(
    ("dataset", "method", "architecture"),
    [
        ("cifar10", "sngan", "sngan-resnet"),
        ("cifar10", "nats-wgan-gp", "wgangp-resnet"),
        ("cifar10", "annealed-cfg", "cfg-dcgan"),
        ("stl10", "wgan-gp", "sngan-resnet"),
        ("celeba", "nats-sngan", "cfg-resnet4"),
        ("lsun-church", "cfg", "cfg-resnet4"),
    ],
)
def test_paper_config_picks_each_method_its_architecture(paper_config, dataset, method, architecture):
    run_config = resolve_run_config(paper_config, dataset, method, 0)

    assert run_config["method"]["architecture"] == architecture


def test_nats_variants_share_their_host_settings(paper_config):
    for dataset in PAPER_DATASETS:
        for host in ("wgan-gp", "sngan"):
            host_settings = resolve_run_config(paper_config, dataset, host, 0)["method"]
            nats_settings = resolve_run_config(paper_config, dataset, f"nats-{host}", 0)["method"]
            shared = {key: value for key, value in host_settings.items() if key != "name"}

            assert {key: nats_settings[key] for key in shared} == shared, (dataset, host)


def test_paper_dry_run_counts_jobs(tmp_path):
    output = dry_run(tmp_path, "--quiet", "rules")

    counts = job_counts(output)
    runs = len(PAPER_DATASETS) * len(METHODS) * NUM_SEEDS
    assert counts["train"] == runs
    assert counts["evaluate"] == runs
    assert counts["prepare_dataset"] == len(PAPER_DATASETS)
    assert "classifier" not in counts
    for rule in ("aggregate", "tables", "plots", "all"):
        assert counts[rule] == 1, rule
    assert not (tmp_path / "results").exists()


def test_slurm_dry_run_requests_gpus(tmp_path):
    output = dry_run(tmp_path, "--profile", str(SLURM_PROFILE))

    train_jobs = job_blocks(output, "train")
    assert len(train_jobs) == len(PAPER_DATASETS) * len(METHODS) * NUM_SEEDS
    for block in train_jobs:
        resources = re.search(r"resources: (.*)", block)[1]
        assert "gpu=1" in resources.split(", "), block
        assert "runtime=2880" in resources.split(", "), block
        assert "mem_mb=32000" in resources.split(", "), block
        assert "--signal=TERM@300" in resources, block
    for block in job_blocks(output, "evaluate"):
        assert "gpu=1" in re.search(r"resources: (.*)", block)[1].split(", "), block


def test_slurm_profile_uses_the_slurm_executor_and_retries():
    profile = yaml.safe_load((SLURM_PROFILE / "config.yaml").read_text())

    assert profile["executor"] == "slurm"
    assert profile["retries"] >= 1
    assert profile["rerun-incomplete"] is True


def test_partition_from_the_config_reaches_the_jobs(tmp_path):
    config = yaml.safe_load(PAPER_CONFIG.read_text())
    config["resources"]["train"]["slurm_partition"] = "gpu-long"
    config_file = tmp_path / "paper-on-gpu-long.yaml"
    config_file.write_text(yaml.safe_dump(config))

    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO_DIR / "Snakefile"), "--directory", str(tmp_path),
         "--dry-run", "--configfile", str(config_file), "--profile", str(SLURM_PROFILE)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )

    assert result.returncode == 0, result.stderr[-4000:]
    for block in job_blocks(result.stdout + result.stderr, "train"):
        assert "slurm_partition=gpu-long" in block
    for block in job_blocks(result.stdout + result.stderr, "evaluate"):
        assert "slurm_partition" not in block


def test_local_gpu_profile_caps_concurrent_gpu_jobs(tmp_path):
    profile = yaml.safe_load((LOCAL_GPU_PROFILE / "config.yaml").read_text())

    assert "gpu=1" in profile["resources"]
    dry_run(tmp_path, "--quiet", "rules", "--profile", str(LOCAL_GPU_PROFILE))


def test_paper_networks_match_the_published_ones(paper_config):
    # The CFG nets keep batch norm out of D on purpose (config/README.md:
    # d_batch_norm), where the CFG author code has it.
    from nats.networks import ARCHITECTURES

    checked = 0
    for dataset in PAPER_DATASETS:
        for method in METHODS:
            settings = resolve_run_config(paper_config, dataset, method, 0)["method"]
            architecture = ARCHITECTURES[settings["architecture"]]
            for published in architecture.published:
                if published.dataset != dataset:
                    continue
                expected = dict(published.settings)
                if settings["architecture"].startswith("cfg-"):
                    expected.pop("d_batch_norm")
                assert {key: settings[key] for key in expected} == expected, (dataset, method)
                checked += 1
    assert checked >= 20


def test_missing_weights_stop_workflow_early(tmp_path):
    config = {
        "name": "no-weights",
        "seeds": [0],
        "datasets": {"digits": {"budget_kimg": 0.1, "snapshot_kimg": 0.1}},
        "methods": {"sngan": {}},
        "evaluation": {
            "images": {"protocols": ["legacy"]},
            "inception_weights": {"clean_fid": str(tmp_path / "missing.pt")},
        },
    }
    config_file = tmp_path / "no-weights.yaml"
    config_file.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO_DIR / "Snakefile"),
               "--directory", str(tmp_path), "--configfile", str(config_file)]

    dry = subprocess.run([*command, "--dry-run"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    real = subprocess.run([*command, "--cores", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=300)

    assert dry.returncode == 0, dry.stderr[-3000:]
    assert real.returncode != 0
    assert f"the file {str(tmp_path / 'missing.pt')!r} does not exist" in real.stderr
    assert not (tmp_path / "results").exists()
