"""Exact resume after SIGTERM, SIGKILL, a truncated checkpoint or a larger budget."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nats.checkpointing import find_latest_checkpoint
from nats.config import resolve_run_config
from nats.training import RunFolderConflict, train_run

REPOSITORY = Path(__file__).resolve().parents[1]

CONFIG = {
    "name": "resume",
    "seeds": [0],
    "datasets": {"digits": {"budget_kimg": 6.0, "snapshot_kimg": 1.0, "checkpoint_kimg": 0.25, "batch_size": 32}},
    "methods": {
        "nats-sngan": {"z_dim": 8, "g_width": 8, "d_width": 8},
        "annealed-cfg": {"z_dim": 8, "g_width": 8, "d_width": 8, "num_steps": 3, "num_targets": 64, "approx_epochs": 1, "init_fit_steps": 4},
    },
}


def run_config(method="nats-sngan", budget_kimg=6.0):
    config = json.loads(json.dumps(CONFIG))
    config["datasets"]["digits"]["budget_kimg"] = budget_kimg
    return resolve_run_config(config, "digits", method, 0)


def start_training(run_dir: Path, method="nats-sngan") -> subprocess.Popen:
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    command = [sys.executable, "-m", "nats", "train", "--run-config", json.dumps(run_config(method)), "--run-dir", str(run_dir), "--threads", "1"]
    return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(condition, process: subprocess.Popen, timeout_s=120.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"training ended before the signal was sent:\n{process.stdout.read()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("timed out waiting for training progress")
        time.sleep(0.05)


def logged_losses(run_dir: Path) -> list[dict]:
    lines = (run_dir / "log.jsonl").read_text().splitlines()
    return [{key: value for key, value in json.loads(line).items() if key != "wall_s"} for line in lines]


def final_state(run_dir: Path) -> dict:
    return torch.load(run_dir / "final.pt", weights_only=False)["method"]


def assert_states_equal(left, right, path="state"):
    if isinstance(left, dict):
        assert left.keys() == right.keys(), path
        for key in left:
            assert_states_equal(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, (list, tuple)):
        assert len(left) == len(right), path
        for index, (a, b) in enumerate(zip(left, right)):
            assert_states_equal(a, b, f"{path}[{index}]")
    elif isinstance(left, torch.Tensor):
        assert torch.equal(left, right), f"{path} differs"
    else:
        assert left == right, f"{path}: {left!r} != {right!r}"


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("straight")
    assert train_run(run_config(), run_dir, threads=1) == "complete"
    return run_dir


def test_sigterm_then_resume_is_bit_identical(straight_run, tmp_path):
    process = start_training(tmp_path)
    wait_for(lambda: (tmp_path / "log.jsonl").is_file() and len((tmp_path / "log.jsonl").read_text().splitlines()) >= 3, process)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)

    assert process.returncode == 75, output
    assert "stopped by SIGTERM" in output
    assert not (tmp_path / "final.pt").exists()
    assert json.loads((tmp_path / "provenance.json").read_text())["status"] == "interrupted"

    assert train_run(run_config(), tmp_path, threads=1) == "complete"
    assert_states_equal(final_state(tmp_path), final_state(straight_run))
    assert logged_losses(tmp_path) == logged_losses(straight_run)
    provenance = json.loads((tmp_path / "provenance.json").read_text())
    assert len(provenance["sessions"]) == 2
    assert provenance["sessions"][1]["resumed_from_kimg"] > 0


def test_sigkill_then_resume_matches_straight_run(straight_run, tmp_path):
    process = start_training(tmp_path)
    first_snapshot = lambda: any(path.name != "kimg00000.000.pt" for path in (tmp_path / "checkpoints").glob("kimg*.pt"))
    wait_for(first_snapshot, process)
    process.kill()
    process.communicate(timeout=60)

    assert not (tmp_path / "final.pt").exists()
    assert train_run(run_config(), tmp_path, threads=1) == "complete"
    assert_states_equal(final_state(tmp_path), final_state(straight_run))
    assert logged_losses(tmp_path) == logged_losses(straight_run)


def test_cfg_resume_restores_snapshots_and_schedule(tmp_path):
    straight = tmp_path / "straight"
    train_run(run_config("annealed-cfg", budget_kimg=1.0), straight, threads=1)

    resumed = tmp_path / "resumed"
    train_run(run_config("annealed-cfg", budget_kimg=0.5), resumed, threads=1)
    train_run(run_config("annealed-cfg", budget_kimg=1.0), resumed, threads=1)

    assert_states_equal(final_state(resumed), final_state(straight))
    assert logged_losses(resumed) == logged_losses(straight)


def test_larger_budget_extends_finished_run(straight_run, tmp_path):
    train_run(run_config(budget_kimg=2.5), tmp_path, threads=1)
    assert train_run(run_config(budget_kimg=6.0), tmp_path, threads=1) == "complete"
    assert_states_equal(final_state(tmp_path), final_state(straight_run))


def test_finished_run_is_not_retrained(straight_run):
    before = (straight_run / "final.pt").stat().st_mtime_ns
    assert train_run(run_config(), straight_run, threads=1) == "complete"
    assert (straight_run / "final.pt").stat().st_mtime_ns == before


def test_truncated_checkpoint_falls_back_to_previous(straight_run, tmp_path, caplog):
    run_dir = tmp_path / "run"
    train_run(run_config(budget_kimg=1.0), run_dir, threads=1)
    newest_path, newest = find_latest_checkpoint(run_dir)
    data = newest_path.read_bytes()
    newest_path.write_bytes(data[: len(data) // 2])

    with caplog.at_level(logging.WARNING):
        fallback_path, fallback = find_latest_checkpoint(run_dir)
    assert fallback_path != newest_path
    assert fallback["kimg"] <= newest["kimg"]
    assert str(newest_path) in caplog.text
    assert "falling back" in caplog.text


def test_changed_hyperparameter_is_rejected_with_keys(straight_run):
    changed = run_config()
    changed["method"]["lr_g"] = 0.5
    with pytest.raises(RunFolderConflict, match="method.lr_g"):
        train_run(changed, straight_run)
