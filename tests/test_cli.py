"""The nats-bench command line: help, argument wiring and invalid input."""

import json
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from nats import cli
from nats.config import load_config, resolve_run_config

REPO_DIR = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO_DIR / "config" / "config.yaml"
SUBCOMMANDS = ("train", "resolve", "classifier", "evaluate", "aggregate", "tables", "plots")
RING8_RUN_CONFIG = resolve_run_config(load_config(DEFAULT_CONFIG), "ring8", "wgan-gp", 3)
RUN_CONFIG_WITH_TYPO = {**RING8_RUN_CONFIG, "method": {**RING8_RUN_CONFIG["method"], "etta": 0.5}}


def run_cli(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nats", *arguments],
        cwd=cwd,
        env={"PYTHONPATH": str(REPO_DIR), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def list_tree(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


def stub_module(monkeypatch, name: str, **functions) -> None:
    """Put a module with ``functions`` into sys.modules, so that the CLI imports it."""
    module = types.ModuleType(name)
    for function_name, function in functions.items():
        setattr(module, function_name, function)
    monkeypatch.setitem(sys.modules, name, module)


def test_help_lists_every_subcommand(tmp_path):
    result = run_cli("--help", cwd=tmp_path)

    assert result.returncode == 0
    for subcommand in SUBCOMMANDS:
        assert subcommand in result.stdout


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_subcommand_help_exits_zero(tmp_path, subcommand):
    result = run_cli(subcommand, "--help", cwd=tmp_path)

    assert result.returncode == 0
    assert f"nats-bench {subcommand}" in result.stdout


def test_help_does_not_import_torch(tmp_path):
    check = "import sys; from nats.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", check],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO_DIR)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_console_script_points_at_main():
    pyproject = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())

    assert pyproject["project"]["scripts"]["nats-bench"] == "nats.cli:main"
    assert callable(cli.main)


def test_resolve_prints_resolved_run_config(tmp_path):
    result = run_cli(
        "resolve", "--config", str(DEFAULT_CONFIG), "--dataset", "ring8", "--method", "nats-sngan", "--seed", "2",
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    expected = resolve_run_config(load_config(DEFAULT_CONFIG), "ring8", "nats-sngan", 2)
    assert yaml.safe_load(result.stdout) == expected


@pytest.mark.parametrize(
    ("option", "value"),
    [("--dataset", "grid25"), ("--method", "cfg"), ("--seed", "7")],
)
def test_resolve_rejects_cell_outside_grid(tmp_path, option, value):
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["datasets"] = {"ring8": config["datasets"]["ring8"]}
    config["methods"] = {"sngan": {}}
    del config["overrides"]
    path = tmp_path / "ring8-only.yaml"
    path.write_text(yaml.safe_dump(config))
    arguments = {"--dataset": "ring8", "--method": "sngan", "--seed": "0", option: value}

    result = run_cli("resolve", "--config", str(path), *[item for pair in arguments.items() for item in pair], cwd=tmp_path)

    assert result.returncode == 2
    assert f"{value!r}" in result.stderr or value in result.stderr
    assert "is not in the grid" in result.stderr


INVALID_INPUTS = {
    "train_inline_json_truncated": (
        ["train", "--run-config", '{"dataset": ', "--run-dir", "run"],
        "not valid JSON",
    ),
    "train_run_config_file_missing": (
        ["train", "--run-config", "missing-run.yaml", "--run-dir", "run"],
        "missing-run.yaml",
    ),
    "train_run_config_lacks_sections": (
        ["train", "--run-config", '{"dataset": {"name": "ring8"}}', "--run-dir", "run"],
        "missing the 'method' block",
    ),
    "train_run_config_with_unknown_key": (
        ["train", "--run-config", json.dumps(RUN_CONFIG_WITH_TYPO), "--run-dir", "run"],
        "etta",
    ),
    "resolve_unknown_method": (
        ["resolve", "--config", str(DEFAULT_CONFIG), "--dataset", "ring8", "--method", "nats-dcgan", "--seed", "0"],
        "nats-dcgan",
    ),
    "resolve_unknown_dataset": (
        ["resolve", "--config", str(DEFAULT_CONFIG), "--dataset", "mnist", "--method", "cfg", "--seed", "0"],
        "mnist",
    ),
    "resolve_config_missing": (
        ["resolve", "--config", "no-such-config.yaml", "--dataset", "ring8", "--method", "cfg", "--seed", "0"],
        "no-such-config.yaml",
    ),
    "evaluate_run_dir_missing": (
        ["evaluate", "--run-dir", "no-such-run", "--out", "out/metrics.jsonl"],
        "no-such-run",
    ),
    "aggregate_runs_dir_missing": (
        ["aggregate", "--runs-dir", "no-such-runs", "--out", "out/metrics.csv"],
        "no-such-runs",
    ),
    "tables_metrics_missing": (
        ["tables", "--metrics", "no-such-metrics.csv", "--out-dir", "out/tables"],
        "no-such-metrics.csv",
    ),
    "plots_metrics_missing": (
        ["plots", "--metrics", "no-such-metrics.csv", "--runs-dir", ".", "--out-dir", "out/plots"],
        "no-such-metrics.csv",
    ),
}


@pytest.mark.parametrize("case", INVALID_INPUTS)
def test_invalid_input_exits_2_with_one_line(tmp_path, case):
    arguments, expected_text = INVALID_INPUTS[case]

    result = run_cli(*arguments, cwd=tmp_path)

    assert result.returncode == 2
    error_lines = result.stderr.strip().splitlines()
    assert len(error_lines) == 1, result.stderr
    assert error_lines[0].startswith(f"nats-bench {arguments[0]}: error: ")
    assert expected_text in error_lines[0]
    assert result.stdout == ""
    assert list_tree(tmp_path) == []


def test_malformed_config_yaml_exits_2(tmp_path):
    config_file = tmp_path / "broken.yaml"
    config_file.write_text("name: smoke\nseeds: [0, 1\n")

    result = run_cli(
        "resolve", "--config", str(config_file), "--dataset", "ring8", "--method", "cfg", "--seed", "0",
        cwd=tmp_path,
    )

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "broken.yaml" in result.stderr
    assert "not valid YAML" in result.stderr
    assert list_tree(tmp_path) == [config_file]


@pytest.mark.parametrize(
    "arguments",
    [
        ["classifier", "--resolution", "16", "--epochs", "0", "--seed", "0", "--out", "c.pt"],
        ["train", "--run-config", "{}", "--run-dir", "run", "--threads", "0"],
        ["resolve", "--config", "c.yaml", "--dataset", "ring8", "--method", "cfg", "--seed", "-1"],
    ],
    ids=["epochs_zero", "threads_zero", "seed_negative"],
)
def test_out_of_range_number_exits_2(tmp_path, arguments):
    result = run_cli(*arguments, cwd=tmp_path)

    assert result.returncode == 2
    assert "expected a" in result.stderr
    assert list_tree(tmp_path) == []


def test_train_passes_config_dir_and_threads(monkeypatch, tmp_path):
    calls = []
    stub_module(monkeypatch, "nats.training", train_run=lambda *arguments: calls.append(arguments))
    threads_before = torch.get_num_threads()

    try:
        status = cli.main(["train", "--run-config", json.dumps(RING8_RUN_CONFIG),
                           "--run-dir", str(tmp_path / "run"), "--threads", "1"])
        threads_during = torch.get_num_threads()
    finally:
        torch.set_num_threads(threads_before)

    assert status == 0
    assert calls == [(RING8_RUN_CONFIG, tmp_path / "run", 1)]
    assert threads_during == 1


def test_train_reads_run_config_file(monkeypatch, tmp_path):
    calls = []
    stub_module(monkeypatch, "nats.training", train_run=lambda *arguments: calls.append(arguments))
    run_config = resolve_run_config(load_config(DEFAULT_CONFIG), "digits", "cfg", 0)
    run_config_file = tmp_path / "run.yaml"
    run_config_file.write_text(yaml.safe_dump(run_config))

    status = cli.main(["train", "--run-config", str(run_config_file), "--run-dir", str(tmp_path / "run")])

    assert status == 0
    assert calls == [(run_config, tmp_path / "run", None)]


def test_evaluate_passes_paths_in_order(monkeypatch, tmp_path):
    calls = []
    stub_module(monkeypatch, "nats.evaluation", evaluate_run=lambda *arguments, **options: calls.append(arguments) or [{}])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    classifier_file = tmp_path / "digits-cnn.pt"
    classifier_file.write_bytes(b"")

    status = cli.main([
        "evaluate", "--run-dir", str(run_dir), "--out", str(run_dir / "metrics.jsonl"),
        "--classifier", str(classifier_file), "--samples", str(run_dir / "samples.npz"),
    ])

    assert status == 0
    assert calls == [(run_dir, run_dir / "metrics.jsonl", classifier_file, run_dir / "samples.npz")]


def test_evaluate_without_classifier_passes_none(monkeypatch, tmp_path):
    calls = []
    stub_module(monkeypatch, "nats.evaluation", evaluate_run=lambda *arguments, **options: calls.append(arguments) or [])

    status = cli.main(["evaluate", "--run-dir", str(tmp_path), "--out", str(tmp_path / "metrics.jsonl")])

    assert status == 0
    assert calls == [(tmp_path, tmp_path / "metrics.jsonl", None, None)]


def test_classifier_passes_settings(monkeypatch, tmp_path):
    calls = []
    stub_module(
        monkeypatch,
        "nats.metrics.digits_classifier",
        build_classifier=lambda *arguments: calls.append(arguments) or {"sha256": "0" * 64},
    )
    out = tmp_path / "classifier" / "digits-cnn.pt"

    status = cli.main(["classifier", "--resolution", "16", "--epochs", "3", "--seed", "7", "--out", str(out)])

    assert status == 0
    assert calls == [(16, 3, 7, out)]
    assert out.parent.is_dir()


def test_report_commands_pass_paths(monkeypatch, tmp_path):
    calls = {}
    stub_module(monkeypatch, "nats.report.aggregate",
                aggregate_metrics=lambda *arguments: calls.setdefault("aggregate", arguments))
    stub_module(monkeypatch, "nats.report.tables",
                write_tables=lambda *arguments: calls.setdefault("tables", arguments))
    stub_module(monkeypatch, "nats.report.plots",
                write_plots=lambda *arguments: calls.setdefault("plots", arguments))
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    metrics_csv = tmp_path / "metrics.csv"
    metrics_csv.write_text("metric,value\n")

    statuses = [
        cli.main(["aggregate", "--runs-dir", str(runs_dir), "--out", str(metrics_csv)]),
        cli.main(["tables", "--metrics", str(metrics_csv), "--out-dir", str(tmp_path / "tables")]),
        cli.main(["plots", "--metrics", str(metrics_csv), "--runs-dir", str(runs_dir),
                  "--out-dir", str(tmp_path / "plots")]),
    ]

    assert statuses == [0, 0, 0]
    assert calls["aggregate"] == (runs_dir, metrics_csv)
    assert calls["tables"] == (metrics_csv, tmp_path / "tables")
    assert calls["plots"] == (metrics_csv, runs_dir, tmp_path / "plots")


def test_value_error_from_library_exits_2(monkeypatch, tmp_path, capsys):
    def reject(*arguments):
        raise ValueError("metrics table 'x.csv' has no column 'value'")

    stub_module(monkeypatch, "nats.report.tables", write_tables=reject)
    metrics_csv = tmp_path / "metrics.csv"
    metrics_csv.write_text("")

    status = cli.main(["tables", "--metrics", str(metrics_csv), "--out-dir", str(tmp_path / "tables")])

    assert status == 2
    assert capsys.readouterr().err == "nats-bench tables: error: metrics table 'x.csv' has no column 'value'\n"


def test_other_errors_propagate(monkeypatch, tmp_path):
    def crash(*arguments):
        raise RuntimeError("CUDA out of memory")

    stub_module(monkeypatch, "nats.report.tables", write_tables=crash)
    metrics_csv = tmp_path / "metrics.csv"
    metrics_csv.write_text("")

    with pytest.raises(RuntimeError, match="CUDA out of memory"):
        cli.main(["tables", "--metrics", str(metrics_csv), "--out-dir", str(tmp_path / "tables")])


def write_image_config(folder: Path, protocols: list[str]) -> Path:
    """Write a pipeline config whose clean and legacy protocols compute KID on 12 images, with stand-in weights."""
    from nats.metrics.weights import write_random_cleanfid_weights

    pixels = np.random.default_rng(0).integers(0, 256, (12, 16, 16), dtype=np.uint8)
    np.savez(folder / "generated.npz", images=pixels)
    np.savez(folder / "reference.npz", images=pixels[::-1].copy())
    kid_only = {"num_generated": 12, "reference": str(folder / "reference.npz"), "kid_subsets": 2,
                "kid_subset_size": 6, "metrics": ["kid"]}
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["evaluation"] = {
        **(config.get("evaluation") or {}),
        "clean": kid_only,
        "legacy": kid_only,
        "images": {"protocols": protocols},
        "inception_weights": {"clean_fid": str(write_random_cleanfid_weights(folder / "cleanfid.pt"))},
    }
    config_path = folder / "images.yaml"
    config_path.write_text(yaml.safe_dump(config))
    return config_path


def test_evaluate_images_runs_every_config_protocol(tmp_path):
    config_path = write_image_config(tmp_path, ["clean", "legacy"])
    out = tmp_path / "metrics.jsonl"

    status = cli.main([
        "evaluate", "--images", str(tmp_path / "generated.npz"), "--config", str(config_path), "--out", str(out),
        "--dataset", "cifar10", "--seed", "3", "--method", "mine", "--device", "cpu",
    ])

    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert status == 0
    assert [record["metric"] for record in records] == ["cleankid12", "legacykid12"]
    assert {record["dataset"] for record in records} == {"cifar10"}
    assert {record["seed"] for record in records} == {3}
    assert {record["method"] for record in records} == {"mine"}
    assert {record["kimg"] for record in records} == {None}
    assert {record["protocol"]["weights_published"] for record in records} == {False}


def test_evaluate_images_protocol_option_overrides_config(tmp_path):
    config_path = write_image_config(tmp_path, ["clean", "legacy"])
    out = tmp_path / "metrics.jsonl"

    status = cli.main([
        "evaluate", "--images", str(tmp_path / "generated.npz"), "--config", str(config_path), "--out", str(out),
        "--protocol", "legacy", "--device", "cpu",
    ])

    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert status == 0
    assert [record["metric"] for record in records] == ["legacykid12"]
    assert records[0]["dataset"] is None


def test_evaluate_unknown_config_protocol_exits_2(tmp_path, capsys):
    config_path = write_image_config(tmp_path, ["clean", "legasy"])

    status = cli.main([
        "evaluate", "--images", str(tmp_path / "generated.npz"), "--config", str(config_path),
        "--out", str(tmp_path / "metrics.jsonl"),
    ])

    error = capsys.readouterr().err
    assert status == 2
    assert "evaluation.images.protocols[1] is 'legasy'" in error
    assert "did you mean 'legacy'?" in error


def test_evaluate_image_options_with_run_dir_exit_2(tmp_path, capsys):
    status = cli.main([
        "evaluate", "--run-dir", str(tmp_path), "--out", str(tmp_path / "metrics.jsonl"), "--seed", "2",
        "--protocol", "clean",
    ])

    assert status == 2
    assert "--protocol, --seed only apply to an image set" in capsys.readouterr().err


def test_evaluate_images_cross_checks_fid(tmp_path, caplog):
    # Random weights on both sides, so the two FIDs cannot agree: the check
    # must flag both records and name the stand-ins in the warning. The
    # 8-image FID needs the minimum lowered, which only a test may do.
    import functools

    from nats import evaluation
    from nats.metrics.weights import write_random_torch_fidelity_weights

    config_path = write_image_config(tmp_path, ["inception", "legacy"])
    config = yaml.safe_load(config_path.read_text())
    fid_only = {"num_generated": 8, "reference": str(tmp_path / "reference.npz"), "metrics": ["fid"], "batch_size": 8}
    config["evaluation"]["inception"] = {**fid_only, "density_coverage": False}
    config["evaluation"]["legacy"] = fid_only
    config["evaluation"]["inception_weights"]["torch_fidelity"] = str(
        write_random_torch_fidelity_weights(tmp_path / "inception.pth")
    )
    config_path.write_text(yaml.safe_dump(config))
    out = tmp_path / "metrics.jsonl"

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluation, "evaluate_images", functools.partial(evaluation.evaluate_images, min_fid_samples=4))
        status = cli.main([
            "evaluate", "--images", str(tmp_path / "generated.npz"), "--config", str(config_path), "--out", str(out),
            "--device", "cpu",
        ])

    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert status == 0
    assert [record["metric"] for record in records] == ["fid8_train", "legacyfid8_train"]
    assert [record["fid_cross_check"] for record in records] == ["disagree", "disagree"]
    assert records[0]["fid_cross_check_relative_difference"] > 0.01
    assert "FID CROSS-CHECK FAILED" in caplog.text
    assert "weights that are not the published file (torch-fidelity and clean-fid)" in caplog.text


def test_evaluate_images_uses_dataset_training_split(tmp_path):
    from tests.data.image_files import CIFAR10_BATCH_SIZES, write_cifar10

    config_path = write_image_config(tmp_path, ["clean"])
    config = yaml.safe_load(config_path.read_text())
    write_cifar10(tmp_path / "data")
    config["datasets"] = {"cifar10": {"data_root": str(tmp_path / "data")}}
    config["evaluation"]["clean"].update(reference=None, num_generated=12, kid_subset_size=4)
    config_path.write_text(yaml.safe_dump(config))
    pixels = np.random.default_rng(1).integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    np.savez(tmp_path / "generated32.npz", images=pixels)
    out = tmp_path / "metrics.jsonl"

    status = cli.main([
        "evaluate", "--images", str(tmp_path / "generated32.npz"), "--config", str(config_path), "--out", str(out),
        "--dataset", "cifar10", "--device", "cpu",
    ])

    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert status == 0
    assert records[0]["protocol"]["reference"] == "cifar10-train-32px"
    assert records[0]["protocol"]["num_real"] == sum(CIFAR10_BATCH_SIZES)
