"""GPU claims of concurrent jobs, and performance options that are no-ops on a CPU."""

import getpass
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

from nats.config import ConfigError, resolve_run_config
from nats.gpus import (
    PERFORMANCE_DEFAULTS,
    Performance,
    default_lock_dir,
    performance_settings,
    strip_compile_prefix,
    underlying_module,
)
from nats.training import train_run

REPOSITORY = Path(__file__).resolve().parents[1]

# Claims a GPU, prints the claimed id and CUDA_VISIBLE_DEVICES, then keeps
# the claim until its stdin closes.
CLAIM_SCRIPT = """
import os, sys
from nats.gpus import claim_gpu
claim = claim_gpu(timeout_s=float(sys.argv[1]))
print(claim.gpu if claim is not None else "none", os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
sys.stdin.readline()
"""


def claim_environment(lock_dir: Path, num_gpus: int | None = 2, visible: str | None = None) -> dict:
    environment = {key: value for key, value in os.environ.items() if key not in ("CUDA_VISIBLE_DEVICES", "NATS_NUM_GPUS")}
    environment.update(PYTHONPATH=str(REPOSITORY), NATS_GPU_LOCK_DIR=str(lock_dir))
    if num_gpus is not None:
        environment["NATS_NUM_GPUS"] = str(num_gpus)
    if visible is not None:
        environment["CUDA_VISIBLE_DEVICES"] = visible
    return environment


def start_claim(environment: dict, timeout_s: float = 30.0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CLAIM_SCRIPT, str(timeout_s)],
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def claimed(process: subprocess.Popen) -> tuple[str, str]:
    """Return (claimed id, CUDA_VISIBLE_DEVICES) that a claim process printed."""
    line = process.stdout.readline()
    if not line:
        raise AssertionError(f"claim process printed nothing:\n{process.stderr.read()}")
    gpu, visible = line.split()
    return gpu, visible


def release(process: subprocess.Popen) -> None:
    process.stdin.close()
    process.wait(timeout=30)


@pytest.fixture
def holders():
    processes = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_concurrent_claims_get_different_gpus(tmp_path, holders):
    environment = claim_environment(tmp_path / "locks")
    holders += [start_claim(environment), start_claim(environment)]

    (first, first_visible), (second, second_visible) = claimed(holders[0]), claimed(holders[1])

    assert {first, second} == {"0", "1"}
    assert first_visible == first
    assert second_visible == second


def test_claim_times_out_when_all_gpus_are_taken(tmp_path, holders):
    lock_dir = tmp_path / "locks"
    environment = claim_environment(lock_dir)
    holders += [start_claim(environment), start_claim(environment)]
    claimed(holders[0])
    claimed(holders[1])

    waiting = start_claim(environment, timeout_s=1.5)
    holders.append(waiting)
    _, errors = waiting.communicate(timeout=60)

    assert waiting.returncode != 0
    assert "GpuClaimTimeout" in errors
    assert "timed out" in errors
    assert str(lock_dir) in errors
    assert "all 2 are locked" in errors


def test_claim_of_exited_process_is_free_again(tmp_path, holders):
    environment = claim_environment(tmp_path / "locks")
    holders += [start_claim(environment), start_claim(environment)]
    first, _ = claimed(holders[0])
    claimed(holders[1])

    release(holders[0])
    holders.append(start_claim(environment, timeout_s=10.0))

    assert claimed(holders[2])[0] == first


def test_waiting_claim_gets_gpu_when_one_is_released(tmp_path, holders):
    environment = claim_environment(tmp_path / "locks", num_gpus=1)
    holders.append(start_claim(environment))
    claimed(holders[0])

    holders.append(start_claim(environment, timeout_s=60.0))
    release(holders[0])

    assert claimed(holders[1])[0] == "0"


def test_single_visible_device_is_kept_without_lock(tmp_path, holders):
    lock_dir = tmp_path / "locks"
    environment = claim_environment(lock_dir, num_gpus=2, visible="3")
    holders += [start_claim(environment), start_claim(environment)]

    assert claimed(holders[0]) == ("3", "3")
    assert claimed(holders[1]) == ("3", "3")
    assert not lock_dir.exists()


def test_claim_chooses_among_visible_devices(tmp_path, holders):
    environment = claim_environment(tmp_path / "locks", num_gpus=None, visible="2,5")
    holders += [start_claim(environment), start_claim(environment)]

    assert sorted([claimed(holders[0]), claimed(holders[1])]) == [("2", "2"), ("5", "5")]


def test_claim_without_gpus_returns_none(tmp_path, holders):
    environment = claim_environment(tmp_path / "locks", num_gpus=0)
    holders.append(start_claim(environment))

    assert claimed(holders[0]) == ("none", "None")


def test_lock_dir_defaults_to_per_user_temp_folder(monkeypatch):
    monkeypatch.delenv("NATS_GPU_LOCK_DIR", raising=False)
    assert default_lock_dir() == Path(tempfile.gettempdir()) / f"nats-gpu-locks-{getpass.getuser()}"

    monkeypatch.setenv("NATS_GPU_LOCK_DIR", "/somewhere/locks")
    assert default_lock_dir() == Path("/somewhere/locks")


def test_performance_settings_fill_defaults():
    assert performance_settings({"device": "cpu"}) == PERFORMANCE_DEFAULTS
    assert performance_settings({"performance": {"bf16": True}}) == {**PERFORMANCE_DEFAULTS, "bf16": True}


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"fp16": True}, "unknown keys fp16"),
        ({"bf16": "yes"}, "bf16 must be true or false"),
        ([True], "must be a mapping"),
    ],
)
def test_performance_settings_reject_bad_values(block, message):
    with pytest.raises(ConfigError, match=message):
        performance_settings({"performance": block})


def test_performance_options_are_off_on_cpu():
    before = torch.backends.cuda.matmul.allow_tf32
    requested = {"bf16": True, "channels_last": True, "tf32": True, "compile": True}

    performance = Performance.for_device(requested, torch.device("cpu"))

    assert performance.describe() == {
        "bf16_autocast": False,
        "channels_last": False,
        "tf32": None,
        "compile": False,
        "compile_backend": None,
    }
    assert torch.backends.cuda.matmul.allow_tf32 == before


def test_compiled_wrapper_state_loads_into_plain_module():
    plain = torch.nn.Linear(3, 2)
    wrapper = torch.compile(torch.nn.Linear(3, 2), backend="eager")
    state = wrapper.state_dict()
    assert all(key.startswith("_orig_mod.") for key in state)

    plain.load_state_dict(strip_compile_prefix(state))

    assert torch.equal(plain.weight, underlying_module(wrapper).weight)
    assert underlying_module(plain) is plain


TINY_RUN = {
    "name": "provenance",
    "seeds": [0],
    "datasets": {"digits": {"budget_kimg": 0.1, "snapshot_kimg": 0.1, "batch_size": 16}},
    "methods": {"sngan": {"z_dim": 8, "g_width": 8, "d_width": 8}},
}


def test_provenance_records_performance_and_torch(tmp_path):
    run_config = resolve_run_config(TINY_RUN, "digits", "sngan", 0)
    run_config["training"]["performance"] = {"bf16": True, "channels_last": True, "tf32": True, "compile": True}

    train_run(run_config, tmp_path / "run", threads=1)

    provenance = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert provenance["performance"]["requested"] == run_config["training"]["performance"]
    assert provenance["performance"]["in_effect"]["bf16_autocast"] is False
    assert provenance["performance"]["in_effect"]["compile"] is False
    assert provenance["machine"]["torch"] == torch.__version__
    assert provenance["machine"]["device"] == "cpu"
