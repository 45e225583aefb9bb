"""A diverged run ends as diverged instead of failing or poisoning a table."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nats.config import resolve_run_config
from nats.training import train_run

from .test_resume import REPOSITORY

TINY = {"z_dim": 8, "g_width": 8, "d_width": 8}


def diverging_config(method: str, **settings) -> dict:
    config = {
        "name": "diverge",
        "seeds": [0],
        "datasets": {"digits": {"budget_kimg": 1.0, "snapshot_kimg": 0.5, "batch_size": 16}},
        "methods": {method: {**TINY, **settings}},
    }
    return resolve_run_config(config, "digits", method, 0)


def test_huge_learning_rate_ends_as_diverged(tmp_path):
    status = train_run(diverging_config("wgan-gp", lr_d=1e30, lr_g=1e30), tmp_path, threads=1)

    assert status == "diverged"
    provenance = json.loads((tmp_path / "provenance.json").read_text())
    assert provenance["status"] == "diverged"
    assert "non-finite loss" in provenance["error"]
    final = torch.load(tmp_path / "final.pt", weights_only=False)
    assert final["status"] == "diverged"
    assert (tmp_path / "checkpoints" / "kimg00000.000.pt").is_file()


def test_cfg_score_gap_limit_ends_as_diverged(tmp_path):
    settings = {"num_steps": 2, "num_targets": 32, "approx_epochs": 1, "init_fit_steps": 2}
    run_config = diverging_config("cfg", divergence_limit=1e-6, divergence_min_stage=0, **settings)

    assert train_run(run_config, tmp_path, threads=1) == "diverged"
    provenance = json.loads((tmp_path / "provenance.json").read_text())
    assert "exceeds divergence_limit" in provenance["error"]


def test_diverged_run_is_not_trained_again(tmp_path):
    run_config = diverging_config("wgan-gp", lr_d=1e30, lr_g=1e30)
    train_run(run_config, tmp_path, threads=1)
    before = (tmp_path / "final.pt").stat().st_mtime_ns

    assert train_run(run_config, tmp_path, threads=1) == "diverged"
    assert (tmp_path / "final.pt").stat().st_mtime_ns == before


def test_cli_exits_zero_for_diverged_run(tmp_path):
    command = [
        sys.executable, "-m", "nats", "train",
        "--run-config", json.dumps(diverging_config("wgan-gp", lr_d=1e30, lr_g=1e30)),
        "--run-dir", str(tmp_path), "--threads", "1",
    ]
    result = subprocess.run(command, env={"PYTHONPATH": str(REPOSITORY), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    assert "diverged" in result.stderr


@pytest.mark.slow
def test_grid_with_diverged_run_completes(tmp_path):
    import yaml

    from .test_pipeline import run_snakemake

    config = {
        "name": "diverging",
        "seeds": [0, 1],
        "device": "cpu",
        "threads_per_job": 1,
        "datasets": {"ring8": {"num_points": 2000, "batch_size": 64, "budget_kimg": 1, "snapshot_kimg": 0.5}},
        "methods": {"sngan": {"z_dim": 8, "g_width": 16, "d_width": 16}, "wgan-gp": {"z_dim": 8, "g_width": 16, "d_width": 16}},
        "overrides": {"ring8": {"wgan-gp": {"lr_d": 1e30, "lr_g": 1e30}}},
        "evaluation": {"mixtures": {"num_samples": 500, "min_mode_samples": 5}},
    }
    config_path = tmp_path / "diverging.yaml"
    config_path.write_text(yaml.safe_dump(config))

    result = run_snakemake("--configfile", str(config_path), "--cores", "2", cwd=tmp_path, timeout=600)

    assert result.returncode == 0, result.stderr[-4000:]
    results = tmp_path / "results" / "diverging"
    for seed in (0, 1):
        provenance = json.loads((results / "runs" / "ring8" / "wgan-gp" / f"seed{seed}" / "provenance.json").read_text())
        assert provenance["status"] == "diverged"
        assert json.loads((results / "runs" / "ring8" / "sngan" / f"seed{seed}" / "provenance.json").read_text())["status"] == "complete"
    table = (results / "tables" / "ring8.md").read_text()
    wgan_row = next(line for line in table.splitlines() if line.startswith("| wgan-gp"))
    sngan_row = next(line for line in table.splitlines() if line.startswith("| sngan"))
    assert "diverged" in wgan_row
    assert "diverged" not in sngan_row
    assert ": ," not in table, "a column lists an empty protocol id"
    assert ": ;" not in table, "a column lists an empty protocol id"
