"""The Snakemake workflow: job counts of a dry run, and one whole run of a tiny grid."""

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO_DIR = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO_DIR / "Snakefile"
DEFAULT_CONFIG = REPO_DIR / "config" / "config.yaml"
TINY_CONFIG = REPO_DIR / "tests" / "data" / "tiny.yaml"
TINY_DATASETS = ("digits", "ring8")
METHODS = ("cfg", "annealed-cfg", "wgan-gp", "sngan", "nats-wgan-gp", "nats-sngan")
NUMBER_PATTERN = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
NON_FINITE_PATTERN = re.compile(r"\b(nan|inf|infinity)\b", re.IGNORECASE)


def run_snakemake(*arguments: str, cwd: Path, timeout: int) -> subprocess.CompletedProcess:
    # `python -m snakemake` keeps this interpreter, so the jobs use it too.
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def job_counts(dry_run_output: str) -> dict[str, int]:
    """Parse the job-stats table that a dry run prints (``rule  count`` rows)."""
    counts = {}
    for line in dry_run_output.splitlines():
        match = re.fullmatch(r"\s*([A-Za-z_][\w-]*)\s+(\d+)\s*", line)
        if match and match[1] != "total":
            counts[match[1]] = int(match[2])
    return counts


def read_logs(logs_dir: Path, max_chars: int = 4000) -> str:
    """Return the end of every job log, to explain a failed run."""
    parts = []
    for log_file in sorted(logs_dir.rglob("*.log")):
        text = log_file.read_text(errors="replace")
        parts.append(f"--- {log_file.relative_to(logs_dir)}\n{text[-max_chars:]}")
    return "\n".join(parts)


def test_dry_run_of_default_config_counts_jobs(tmp_path):
    (tmp_path / "config").mkdir()
    shutil.copy(DEFAULT_CONFIG, tmp_path / "config" / "config.yaml")

    result = run_snakemake("--dry-run", "--quiet", "rules", cwd=tmp_path, timeout=300)

    assert result.returncode == 0, result.stderr[-4000:]
    counts = job_counts(result.stdout + result.stderr)
    assert counts["train"] == 3 * 6 * 3
    assert counts["evaluate"] == 3 * 6 * 3
    assert counts["classifier"] == 1
    for rule in ("aggregate", "tables", "plots", "all"):
        assert counts[rule] == 1, rule
    assert not (tmp_path / "results").exists()


def test_configfile_option_replaces_default_config(tmp_path):
    # The default config sits in the working directory, yet only the tiny
    # grid (2 datasets, 6 methods, 1 seed) is scheduled.
    (tmp_path / "config").mkdir()
    shutil.copy(DEFAULT_CONFIG, tmp_path / "config" / "config.yaml")

    result = run_snakemake("--dry-run", "--quiet", "rules", "--configfile", str(TINY_CONFIG), cwd=tmp_path, timeout=300)

    assert result.returncode == 0, result.stderr[-4000:]
    assert job_counts(result.stdout + result.stderr)["train"] == 2 * 6 * 1


def test_dry_run_rejects_invalid_config(tmp_path):
    config_file = tmp_path / "bad.yaml"
    config_file.write_text(TINY_CONFIG.read_text().replace("budget_kimg: 2", "budget_kimg: -2", 1))

    result = run_snakemake("--dry-run", "--configfile", str(config_file), cwd=tmp_path, timeout=300)

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "budget_kimg" in output
    assert "-2" in output


@pytest.mark.slow
def test_tiny_grid_runs_end_to_end(tmp_path):
    result = run_snakemake(
        "--cores", "2", "--directory", str(tmp_path), "--configfile", str(TINY_CONFIG),
        cwd=tmp_path,
        timeout=1800,
    )

    results_dir = tmp_path / "results" / "tiny"
    assert result.returncode == 0, result.stderr[-6000:] + "\n" + read_logs(results_dir / "logs")

    for dataset in TINY_DATASETS:
        for method in METHODS:
            run_dir = results_dir / "runs" / dataset / method / "seed0"
            for name in ("final.pt", "metrics.jsonl", "samples.npz", "config.yaml", "provenance.json", "log.jsonl"):
                assert (run_dir / name).is_file(), f"{run_dir.relative_to(tmp_path)} lacks {name}"
            assert (results_dir / "logs" / "train" / dataset / method / "seed0.log").is_file()
            assert (results_dir / "logs" / "evaluate" / dataset / method / "seed0.log").is_file()

            records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
            assert records, f"{dataset}/{method}: metrics.jsonl is empty"

            with np.load(run_dir / "samples.npz") as samples:
                for key in samples.files:
                    assert np.isfinite(samples[key]).all(), f"{dataset}/{method}: {key} has non-finite values"

    assert (results_dir / "classifier" / "digits-cnn.pt").is_file()

    metrics = pd.read_csv(results_dir / "metrics.csv")
    assert set(metrics["dataset"]) == set(TINY_DATASETS)
    assert set(metrics["method"]) == set(METHODS)
    finite_values = metrics[np.isfinite(metrics["value"])]
    runs_with_finite_values = set(zip(finite_values["dataset"], finite_values["method"]))
    assert runs_with_finite_values == {(dataset, method) for dataset in TINY_DATASETS for method in METHODS}

    main_table = (results_dir / "tables" / "main.md").read_text()
    numbers = [float(number) for number in NUMBER_PATTERN.findall(main_table)]
    assert numbers, "tables/main.md contains no numbers"
    assert all(math.isfinite(number) for number in numbers)
    assert NON_FINITE_PATTERN.search(main_table) is None, "tables/main.md contains a non-finite value"
    for method in METHODS:
        assert method in main_table, f"tables/main.md has no row for {method}"

    plot_files = list((results_dir / "plots").rglob("*"))
    png_files = [path for path in plot_files if path.suffix == ".png"]
    pdf_files = [path for path in plot_files if path.suffix == ".pdf"]
    assert png_files, "no PNG plot written"
    assert pdf_files, "no PDF plot written"
    for png_file in png_files:
        assert png_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{png_file.name} is not a PNG file"
    for pdf_file in pdf_files:
        assert pdf_file.read_bytes()[:5] == b"%PDF-", f"{pdf_file.name} is not a PDF file"

    report_file = tmp_path / "report.html"
    report = run_snakemake(
        "--directory", str(tmp_path), "--configfile", str(TINY_CONFIG), "--report", str(report_file),
        cwd=tmp_path,
        timeout=600,
    )
    assert report.returncode == 0, report.stderr[-4000:]
    report_html = report_file.read_text(errors="replace")
    assert "main.csv" in report_html
    assert "Welch" in report_html, "the table caption is missing from the report"
    assert "digits_annealed-cfg_seed0.png" in report_html
