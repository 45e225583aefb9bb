"""The training-throughput benchmark runs end to end on the CPU (not timed)."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "training_throughput.py"


@pytest.fixture(scope="module")
def benchmark():
    spec = importlib.util.spec_from_file_location("training_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TINY_RUN = [
    "--device", "cpu", "--steps", "1", "--rounds", "1", "--warmup", "0",
    "--batch-size", "4", "--num-images", "8", "--g-width", "16", "--d-width", "16", "--z-dim", "8",
    "--set", "num_steps=2", "num_targets=8", "approx_epochs=1",
]


def test_benchmark_prints_ratio_per_cell(benchmark, capsys):
    # One cell per plain loop: a CFG stage, an alternating and a NATS iteration.
    records = benchmark.main([*TINY_RUN, "--methods", "cfg", "sngan", "nats-wgan-gp", "--architectures", "wgangp-resnet"])
    output = capsys.readouterr().out

    assert [record["method"] for record in records] == ["cfg", "sngan", "nats-wgan-gp"]
    json_lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert [line["method"] for line in json_lines] == ["cfg", "sngan", "nats-wgan-gp"]
    for line in json_lines:
        assert line["architecture"] == "wgangp-resnet"
        assert line["ratio"] > 0
        assert line["ours_images_per_s"] > 0
        assert line["plain_images_per_s"] > 0
    assert "| ratio ours / plain |" in output
    assert "| sngan | wgangp-resnet 32x32 |" in output


def test_benchmark_rejects_unsupported_resolution(benchmark):
    with pytest.raises(SystemExit):
        benchmark.main([*TINY_RUN, "--architectures", "wgangp-resnet:48"])


def test_benchmark_rejects_unknown_setting(benchmark):
    with pytest.raises(SystemExit, match="num_stepz"):
        benchmark.main([*TINY_RUN, "--methods", "sngan", "--set", "num_stepz=2"])
