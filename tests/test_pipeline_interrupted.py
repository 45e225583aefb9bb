"""An interrupted pipeline finishes on rerun without retraining or losing results."""

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from .test_pipeline import SNAKEFILE, TINY_CONFIG, read_logs, run_snakemake

pytestmark = pytest.mark.slow


def snapshot_files(runs_dir: Path, name: str) -> dict[Path, str]:
    return {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in runs_dir.rglob(name)}


@pytest.fixture(scope="module")
def interrupted_then_rerun(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("interrupted")
    runs_dir = workdir / "results" / "tiny" / "runs"
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--configfile", str(TINY_CONFIG), "--cores", "2"]
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    deadline = time.monotonic() + 600
    while len(list(runs_dir.rglob("metrics.jsonl"))) < 2:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the pipeline ended or stalled before it could be interrupted:\n{process.stdout.read()[-4000:]}")
        time.sleep(0.2)

    # Ctrl-C: Snakemake stops its running jobs, the train command saves a checkpoint.
    process.send_signal(signal.SIGINT)
    first_output, _ = process.communicate(timeout=300)
    finished_runs = snapshot_files(runs_dir, "final.pt")
    finished_metrics = snapshot_files(runs_dir, "metrics.jsonl")
    finished_logs = {path.parent: path.read_text() for path in runs_dir.rglob("log.jsonl") if path.parent / "final.pt" in finished_runs}

    # Jobs that finished while Snakemake shut down are marked incomplete, so
    # the rerun needs --rerun-incomplete, the flag Snakemake's own error message names.
    rerun = run_snakemake("--configfile", str(TINY_CONFIG), "--cores", "2", "--rerun-incomplete", cwd=workdir, timeout=900)
    return {
        "workdir": workdir,
        "runs_dir": runs_dir,
        "first_returncode": process.returncode,
        "first_output": first_output,
        "finished_runs": finished_runs,
        "finished_metrics": finished_metrics,
        "finished_logs": finished_logs,
        "rerun": rerun,
    }


def test_interrupted_grid_completes_on_rerun(interrupted_then_rerun):
    result = interrupted_then_rerun
    assert result["first_returncode"] != 0, "the first pipeline run was not interrupted"
    assert result["rerun"].returncode == 0, result["rerun"].stderr[-3000:] + read_logs(result["workdir"] / "results" / "tiny" / "logs")[-3000:]
    assert (result["workdir"] / "results" / "tiny" / "tables" / "main.md").is_file()
    assert len(list(result["runs_dir"].rglob("final.pt"))) == 2 * 6


def test_rerun_keeps_finished_runs_and_metrics(interrupted_then_rerun):
    result = interrupted_then_rerun
    assert result["finished_runs"], "no run had finished before the interruption"
    after_runs = snapshot_files(result["runs_dir"], "final.pt")
    after_metrics = snapshot_files(result["runs_dir"], "metrics.jsonl")
    for path, digest in result["finished_runs"].items():
        assert after_runs[path] == digest, f"{path} changed"
    for path, digest in result["finished_metrics"].items():
        assert after_metrics[path] == digest, f"{path} changed"
    for run_dir, log in result["finished_logs"].items():
        assert (run_dir / "log.jsonl").read_text() == log, f"{run_dir} was trained again"


def test_changed_settings_stop_before_any_job(interrupted_then_rerun, tmp_path):
    workdir = interrupted_then_rerun["workdir"]
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["methods"]["sngan"]["lr_g"] = 0.01
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(config))
    finished = snapshot_files(interrupted_then_rerun["runs_dir"], "final.pt")

    result = run_snakemake("--configfile", str(changed), "--cores", "2", cwd=workdir, timeout=300)

    assert result.returncode != 0
    assert "contains runs written with other settings" in result.stderr
    assert "method.lr_g" in result.stderr
    assert snapshot_files(interrupted_then_rerun["runs_dir"], "final.pt") == finished


def test_larger_budget_is_not_a_conflict(interrupted_then_rerun, tmp_path):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["datasets"]["ring8"]["budget_kimg"] = 3
    larger = tmp_path / "larger.yaml"
    larger.write_text(yaml.safe_dump(config))

    result = run_snakemake("--dry-run", "--configfile", str(larger), "--cores", "2", cwd=interrupted_then_rerun["workdir"], timeout=300)

    assert result.returncode == 0, result.stderr[-4000:]


def test_changed_evaluation_setting_reruns_evaluation_only(interrupted_then_rerun, tmp_path):
    from .test_pipeline import job_counts

    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["evaluation"]["mixtures"]["min_mode_samples"] = 6
    changed = tmp_path / "evaluation.yaml"
    changed.write_text(yaml.safe_dump(config))

    result = run_snakemake(
        "--dry-run", "--quiet", "rules", "--configfile", str(changed), "--cores", "2",
        cwd=interrupted_then_rerun["workdir"], timeout=300,
    )

    assert result.returncode == 0, result.stderr[-4000:]
    counts = job_counts(result.stdout + result.stderr)
    assert counts.get("train", 0) == 0
    assert counts["evaluate"] == 6
