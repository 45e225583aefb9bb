"""The same seed and config give the same numbers twice on CPU."""

import json

import pytest
import torch

from nats.config import resolve_run_config
from nats.evaluation import evaluate_run
from nats.training import RunFolderConflict, train_run

TINY = {
    "name": "repro",
    "seeds": [0],
    "datasets": {"digits": {"budget_kimg": 0.5, "snapshot_kimg": 0.25, "batch_size": 32}},
    "methods": {"annealed-cfg": {"z_dim": 8, "g_width": 8, "d_width": 8, "num_steps": 2, "num_targets": 64, "approx_epochs": 1, "init_fit_steps": 4}},
    "evaluation": {"digits": {"num_generated": 200, "is_splits": 2}},
}


def run_and_evaluate(run_dir, classifier_path):
    run_config = resolve_run_config(TINY, "digits", "annealed-cfg", 0)
    train_run(run_config, run_dir, threads=1)
    records = evaluate_run(run_dir, run_dir / "metrics.jsonl", classifier_path=classifier_path)
    return records


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, classifier_path):
    first = tmp_path_factory.mktemp("first")
    second = tmp_path_factory.mktemp("second")
    return (first, run_and_evaluate(first, classifier_path)), (second, run_and_evaluate(second, classifier_path))


def test_same_seed_gives_same_metrics(two_runs):
    (_, first), (_, second) = two_runs
    assert len(first) == len(second) > 0
    for left, right in zip(first, second):
        assert left["metric"] == right["metric"]
        assert left["value"] == right["value"], left["metric"]


def test_same_seed_gives_same_weights(two_runs):
    (first_dir, _), (second_dir, _) = two_runs
    first = torch.load(first_dir / "final.pt", weights_only=False)["method"]
    second = torch.load(second_dir / "final.pt", weights_only=False)["method"]
    for name, tensor in first["approximator"].items():
        assert torch.equal(tensor, second["approximator"][name]), name


def test_same_seed_gives_same_training_log(two_runs):
    (first_dir, _), (second_dir, _) = two_runs
    read = lambda folder: [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
    drop_time = lambda rows: [{k: v for k, v in row.items() if k != "wall_s"} for row in rows]
    assert drop_time(read(first_dir)) == drop_time(read(second_dir))


def test_run_folder_with_other_settings_is_rejected(two_runs):
    (first_dir, _), _ = two_runs
    other = resolve_run_config(TINY, "digits", "annealed-cfg", 1)
    before = (first_dir / "config.yaml").read_text()
    with pytest.raises(RunFolderConflict, match="training.seed"):
        train_run(other, first_dir)
    assert (first_dir / "config.yaml").read_text() == before


def test_provenance_records_counters_and_status(two_runs):
    (first_dir, _), _ = two_runs
    provenance = json.loads((first_dir / "provenance.json").read_text())
    assert provenance["status"] == "complete"
    assert provenance["kimg"] >= 0.5
    assert provenance["d_steps"] > 0
    assert provenance["g_steps"] > 0
    assert provenance["packages"]["torch"] == torch.__version__.split("+")[0]
    assert provenance["implementation_choices"]["discriminator_mode_while_moving_samples"] == "eval"
