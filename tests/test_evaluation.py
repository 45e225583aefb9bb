"""evaluate_run on run folders written the way training writes them.

The methods are stand-ins with a known sample quality per checkpoint.
``nats.runs`` is replaced by a small module with the same interface
(read_run_config, list_checkpoints, load_method). The evaluation loop, the
protocols and the record writing under test are the real ones.
"""

import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from nats.config import load_config, resolve_run_config
from nats.data import load_training_set
from nats.data.mixtures import sample_mixture
from nats.evaluation import GENERATION_SEED_OFFSET, EvaluationError, add_fid_cross_check, evaluate_run
from nats.methods.base import Method
from nats.metrics.digits_classifier import build_classifier
from nats.metrics.records import SampleCountError, protocol_id, read_records

CONFIG_PATH = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
TRAINING_SEED = 1
# Sample noise per checkpoint: the stand-in improves as it trains.
NOISE_BY_KIMG = {0.0: 1.0, 10.0: 0.05}


class StandInMethod(Method):
    """Draws real data plus noise of a scale stored in the checkpoint."""

    sample_modes = ("refined", "generator")

    def __init__(self, settings, training_set, batch_size, seed, device):
        super().__init__(settings, training_set, batch_size, seed, device)
        self.noise = 1.0
        self.sample_calls = []

    def train(self, budget_kimg, on_progress=None):
        raise NotImplementedError

    def sample(self, num_samples, seed, mode=None, batch_size=500):
        mode = self.check_sample_mode(mode)
        self.sample_calls.append((num_samples, seed, mode))
        generator = torch.Generator().manual_seed(seed)
        # The refined mode is twice as precise as the generator.
        noise_scale = self.noise * (0.5 if mode == "refined" else 1.0)
        if self.training_set.kind == "image":
            indices = torch.randint(len(self.training_set), (num_samples,), generator=generator)
            real = self.training_set.samples[indices]
            noise = torch.randn(real.shape, generator=generator) * noise_scale
            return (real + noise).clamp(-1.0, 1.0)
        std = self.training_set.info["std"]
        exact = sample_mixture(self.training_set.name, num_samples, generator)
        return exact + torch.randn(num_samples, 2, generator=generator) * noise_scale * 20 * std

    def state_dict(self):
        return {"noise": self.noise, "counters": self.counters()}

    def load_state_dict(self, state):
        self.noise = state["noise"]
        self.load_counters(state["counters"])


def make_runs_module(loaded_methods: list) -> types.ModuleType:
    def read_run_config(run_dir):
        return yaml.safe_load((Path(run_dir) / "config.yaml").read_text())

    def list_checkpoints(run_dir):
        return sorted((Path(run_dir) / "checkpoints").glob("kimg*.pt"), key=lambda path: int(path.stem[4:]))

    def load_method(run_dir, checkpoint_path, device="cpu"):
        run_config = read_run_config(run_dir)
        training_set = load_training_set(run_config["dataset"]["name"], run_config["dataset"])
        method = StandInMethod(
            run_config["method"], training_set, run_config["training"]["batch_size"],
            run_config["training"]["seed"], torch.device(device),
        )
        method.load_state_dict(torch.load(checkpoint_path, weights_only=True))
        loaded_methods.append(method)
        return method

    module = types.ModuleType("nats.runs")
    module.read_run_config = read_run_config
    module.list_checkpoints = list_checkpoints
    module.load_method = load_method
    return module


@pytest.fixture(autouse=True)
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def loaded_methods(monkeypatch):
    methods = []
    monkeypatch.setitem(sys.modules, "nats.runs", make_runs_module(methods))
    return methods


def write_run(root: Path, dataset: str, evaluation: dict | None = None) -> Path:
    config = load_config(CONFIG_PATH)
    if evaluation is not None:
        config["evaluation"] = evaluation
    run_config = resolve_run_config(config, dataset, "cfg", TRAINING_SEED)
    run_dir = root / "runs" / dataset / "cfg" / f"seed{TRAINING_SEED}"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(run_config))
    for step, (kimg, noise) in enumerate(NOISE_BY_KIMG.items()):
        counters = {"real_images_shown": int(kimg * 1000), "d_steps": 7 * step, "g_steps": 3 * step}
        torch.save({"noise": noise, "counters": counters}, run_dir / "checkpoints" / f"kimg{int(kimg):06d}.pt")
    return run_dir


@pytest.fixture(scope="module")
def classifier_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("classifier") / "digits16.pt"
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        build_classifier(16, 30, 0, path)
    finally:
        torch.set_num_threads(previous)
    return path


def select(records, **fields):
    return [record for record in records if all(record[key] == value for key, value in fields.items())]


def test_mixture_run_records_every_checkpoint_mode_and_metric(tmp_path, loaded_methods):
    run_dir = write_run(tmp_path, "ring8")
    out_path = tmp_path / "metrics" / "ring8.jsonl"

    records = evaluate_run(run_dir, out_path)

    assert len(records) == 2 * 2 * 3
    assert read_records(out_path) == json.loads(json.dumps(records))
    first = records[0]
    assert first["checkpoint"] == "kimg000000"
    assert first["sample_mode"] == "refined"
    assert first["metric"] == "modes2.5k"
    assert (first["config_name"], first["dataset"], first["method"], first["seed"]) == ("smoke", "ring8", "cfg", 1)
    last = records[-1]
    assert (last["checkpoint"], last["kimg"], last["d_steps"], last["g_steps"]) == ("kimg000010", 10.0, 7, 3)
    assert last["protocol"]["generation_seed"] == TRAINING_SEED + GENERATION_SEED_OFFSET
    assert last["protocol"]["sample_mode"] == last["sample_mode"]
    assert last["protocol_id"] == protocol_id(last["protocol"])


def test_every_mode_draws_configured_count_with_generation_seed(tmp_path, loaded_methods):
    run_dir = write_run(tmp_path, "ring8")

    evaluate_run(run_dir, tmp_path / "metrics.jsonl")

    seed = TRAINING_SEED + GENERATION_SEED_OFFSET
    for method in loaded_methods:
        assert method.sample_calls == [(2500, seed, "refined"), (2500, seed, "generator")]


def test_trained_checkpoint_scores_better(tmp_path, loaded_methods):
    run_dir = write_run(tmp_path, "grid25")

    records = evaluate_run(run_dir, tmp_path / "metrics.jsonl")

    def value(checkpoint, mode, metric):
        (record,) = select(records, checkpoint=checkpoint, sample_mode=mode, metric=metric)
        return record["value"]

    assert value("kimg000010", "refined", "modes2.5k") == 25
    assert value("kimg000010", "refined", "hq2.5k") > value("kimg000000", "refined", "hq2.5k")
    assert value("kimg000010", "refined", "hq2.5k") > value("kimg000010", "generator", "hq2.5k")


def test_mixture_samples_file_holds_final_points(tmp_path, loaded_methods):
    run_dir = write_run(tmp_path, "ring8")

    evaluate_run(run_dir, tmp_path / "metrics.jsonl")

    with np.load(run_dir / "samples.npz") as samples:
        assert sorted(samples.files) == ["generator", "refined"]
        assert samples["refined"].shape == (2500, 2)
        assert samples["refined"].dtype == np.float32
        final_method = loaded_methods[-1]
        expected = final_method.sample(2500, TRAINING_SEED + GENERATION_SEED_OFFSET, "generator")
        assert np.array_equal(samples["generator"], expected.numpy())


def test_evaluation_is_repeatable(tmp_path, loaded_methods):
    run_dir = write_run(tmp_path, "ring8")

    first = evaluate_run(run_dir, tmp_path / "first.jsonl")
    second = evaluate_run(run_dir, tmp_path / "second.jsonl")

    assert first == second


def test_digits_run_records_four_metrics(tmp_path, loaded_methods, classifier_path):
    run_dir = write_run(tmp_path, "digits")
    samples_path = tmp_path / "digits_samples.npz"

    records = evaluate_run(run_dir, tmp_path / "digits.jsonl", classifier_path, samples_path)

    names = [record["metric"] for record in select(records, checkpoint="kimg000010", sample_mode="generator")]
    assert names == ["fd2k_digits", "cs2k_s10", "precision2k_k3", "recall2k_k3"]
    assert all(math.isfinite(record["value"]) for record in records)
    (score,) = select(records, checkpoint="kimg000010", sample_mode="refined", metric="cs2k_s10")
    assert score["std"] is not None
    (early_fd,) = select(records, checkpoint="kimg000000", sample_mode="refined", metric="fd2k_digits")
    (late_fd,) = select(records, checkpoint="kimg000010", sample_mode="refined", metric="fd2k_digits")
    assert late_fd["value"] < early_fd["value"]
    assert late_fd["protocol"]["reference"] == "digits-all-16px"
    with np.load(samples_path) as samples:
        assert samples["refined"].shape == (100, 1, 16, 16)
        assert samples["refined"].dtype == np.float32


def test_digits_run_without_classifier_is_rejected(tmp_path, loaded_methods):
    run_dir = write_run(tmp_path, "digits")

    with pytest.raises(EvaluationError, match="classifier"):
        evaluate_run(run_dir, tmp_path / "metrics.jsonl")

    assert loaded_methods == []
    assert not (tmp_path / "metrics.jsonl").exists()


def test_too_small_digits_count_is_rejected_before_sampling(tmp_path, loaded_methods, classifier_path):
    evaluation = {"digits": {"num_generated": 50, "is_splits": 10, "prc_neighborhood": 3}}
    run_dir = write_run(tmp_path, "digits", evaluation)

    with pytest.raises(SampleCountError, match="num_generated is 50, below the minimum of 65"):
        evaluate_run(run_dir, tmp_path / "metrics.jsonl", classifier_path)

    assert loaded_methods == []


def test_run_without_checkpoints_is_rejected(tmp_path, loaded_methods):
    run_dir = write_run(tmp_path, "ring8")
    for checkpoint in (run_dir / "checkpoints").iterdir():
        checkpoint.unlink()

    with pytest.raises(EvaluationError, match="no checkpoints"):
        evaluate_run(run_dir, tmp_path / "metrics.jsonl")


# Image protocols with random-valued Inception weights and tiny counts: the
# FID minimum is lowered through min_fid_samples, never in the config.
TINY_INCEPTION = {
    "num_generated": 8,
    "is_splits": 2,
    "kid_subsets": 3,
    "kid_subset_size": 4,
    "prc_neighborhood": 3,
    "density_coverage": False,
    # FID is left out: torch-fidelity's FID costs 8 s per call on this CPU
    # whatever the count; tests/metrics/test_inception.py covers it.
    "metrics": ["is", "kid", "prc"],
    "batch_size": 8,
}


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory):
    from nats.metrics.weights import write_random_torch_fidelity_weights

    return write_random_torch_fidelity_weights(tmp_path_factory.mktemp("inception") / "inception.pth")


def write_reference(path: Path, count: int = 8) -> Path:
    pixels = np.round((load_digits_samples()[:count].numpy() + 1) * 127.5).astype(np.uint8)
    np.savez(path, images=pixels)
    return path


def load_digits_samples():
    from nats.data import load_digits

    return load_digits(16).samples


def image_evaluation(tmp_path, weights_path, **images):
    reference = write_reference(tmp_path / "reference.npz")
    config = load_config(CONFIG_PATH)
    return {
        **config["evaluation"],
        "inception": {**TINY_INCEPTION, "reference": str(reference)},
        "images": {"protocols": ["inception"], **images},
        "inception_weights": {"torch_fidelity": str(weights_path)},
    }


def test_inception_protocol_scores_final_checkpoint_only(tmp_path, loaded_methods, classifier_path, inception_weights):
    run_dir = write_run(tmp_path, "digits", image_evaluation(tmp_path, inception_weights))

    records = evaluate_run(run_dir, tmp_path / "m.jsonl", classifier_path, cache_dir=tmp_path / "cache", min_fid_samples=4)

    inception_records = [record for record in records if record["protocol"]["name"] == "inception"]
    assert {record["checkpoint"] for record in inception_records} == {"kimg000010"}
    assert sorted({record["metric"] for record in inception_records}) == [
        "is8_s2", "kid8", "precision8_k3", "recall8_k3",
    ]
    assert inception_records[0]["protocol"]["metrics"] == ["is", "kid", "prc"]
    assert {record["sample_mode"] for record in inception_records} == {"refined", "generator"}
    stamp = inception_records[0]["protocol"]
    assert stamp["reference"] == "reference.npz"
    assert stamp["num_real"] == 8
    assert stamp["generation_seed"] == TRAINING_SEED + GENERATION_SEED_OFFSET
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 1
    final_method = loaded_methods[-1]
    assert (8, TRAINING_SEED + GENERATION_SEED_OFFSET, "refined") in final_method.sample_calls


def test_inception_count_below_minimum_rejected_before_sampling(tmp_path, loaded_methods, classifier_path, inception_weights):

    evaluation = image_evaluation(tmp_path, inception_weights)
    evaluation["inception"]["metrics"] = ["fid"]
    run_dir = write_run(tmp_path / "fid", "digits", evaluation)

    with pytest.raises(SampleCountError, match="FID needs at least 2048 generated images, but num_generated is 8"):
        evaluate_run(run_dir, tmp_path / "m.jsonl", classifier_path)

    assert loaded_methods == []


def test_default_config_selects_no_image_protocol():
    config = load_config(CONFIG_PATH)

    for dataset in config["datasets"]:
        assert "images" not in resolve_run_config(config, dataset, "cfg", 0)["evaluation"]


def test_fid_cross_check_flags_disagreement(caplog):
    def record(protocol, metric, value):
        return {
            "protocol": {"name": protocol, "weights_sha256": "x"}, "metric": metric, "value": value,
            "method": "cfg", "seed": 0, "checkpoint": "kimg000010", "sample_mode": "refined",
        }

    records = [record("inception", "fid50k_train", 10.0), record("legacy", "legacyfid50k_train", 10.5),
               record("inception", "is50k_s10", 3.0)]

    checked = add_fid_cross_check(records, tolerance=0.01)
    agreeing = add_fid_cross_check(records, tolerance=0.1)

    assert [entry.get("fid_cross_check") for entry in checked] == ["disagree", "disagree", None]
    assert checked[0]["fid_cross_check_relative_difference"] == pytest.approx(0.05)
    assert "FID CROSS-CHECK FAILED" in caplog.text
    assert [entry.get("fid_cross_check") for entry in agreeing] == ["agree", "agree", None]


def test_diverged_run_gets_nan_records_at_final_point(tmp_path, loaded_methods):
    run_dir = write_run(tmp_path, "ring8")
    provenance = {"status": "diverged", "kimg": 12.5, "d_steps": 40, "g_steps": 9, "wall_s": 3.5}
    (run_dir / "provenance.json").write_text(json.dumps(provenance))

    records = evaluate_run(run_dir, tmp_path / "metrics.jsonl")

    diverged = select(records, status="diverged")
    assert len(diverged) == 2 * 3
    assert all(math.isnan(record["value"]) for record in diverged)
    assert {(record["kimg"], record["d_steps"], record["g_steps"]) for record in diverged} == {(12.5, 40, 9)}
    assert {record["metric"] for record in diverged} == {"modes2.5k", "hq2.5k", "rkl2.5k"}
    assert len(select(records, status="ok")) == 2 * 2 * 3
    assert {record["wall_s"] for record in records} == {3.5}
    written = read_records(tmp_path / "metrics.jsonl")
    assert sum(math.isnan(record["value"]) for record in written) == 6


def test_complete_run_records_status_ok(tmp_path, loaded_methods):
    run_dir = write_run(tmp_path, "ring8")
    (run_dir / "provenance.json").write_text(json.dumps({"status": "complete", "kimg": 10.0}))

    records = evaluate_run(run_dir, tmp_path / "metrics.jsonl")

    assert {record["status"] for record in records} == {"ok"}


def test_evaluate_images_scores_npz_under_clean_protocol(tmp_path):
    from nats.evaluation import evaluate_images
    from nats.metrics.weights import write_random_cleanfid_weights

    weights_path = write_random_cleanfid_weights(tmp_path / "cleanfid.pt")
    images_path = write_reference(tmp_path / "generated.npz", count=12)
    reference_path = write_reference(tmp_path / "reference.npz", count=10)
    evaluation = {
        "clean": {"num_generated": 12, "reference": str(reference_path), "kid_subsets": 2, "kid_subset_size": 5,
                  "metrics": ["kid"]},
        "inception_weights": {"clean_fid": str(weights_path)},
    }

    records = evaluate_images(images_path, tmp_path / "out.jsonl", "clean", evaluation, label="external", min_fid_samples=4)

    (record,) = records
    assert record["metric"] == "cleankid12"
    assert record["method"] == "external"
    assert record["status"] == "ok"
    assert record["protocol"]["generated_images"] == "generated.npz"
    assert record["protocol"]["num_real"] == 10
    assert record["protocol"]["reference_path"] == str(reference_path)
    assert record["protocol"]["weights_published"] is False
    assert read_records(tmp_path / "out.jsonl") == json.loads(json.dumps(records))


def test_evaluate_images_writes_null_for_unknown_values(tmp_path):
    from nats.evaluation import evaluate_images
    from nats.metrics.weights import write_random_cleanfid_weights

    weights_path = write_random_cleanfid_weights(tmp_path / "cleanfid.pt")
    images_path = write_reference(tmp_path / "generated.npz", count=12)
    reference_path = write_reference(tmp_path / "reference.npz", count=10)
    evaluation = {
        "clean": {"num_generated": 12, "reference": str(reference_path), "kid_subsets": 2, "kid_subset_size": 5,
                  "metrics": ["kid"]},
        "images": {"protocols": ["clean"]},
        "inception_weights": {"clean_fid": str(weights_path)},
    }

    (unknown,) = evaluate_images(images_path, tmp_path / "unknown.jsonl", None, evaluation)
    (given,) = evaluate_images(
        images_path, tmp_path / "given.jsonl", None, evaluation, dataset="digits", seed=4, sample_mode="refined"
    )

    written = read_records(tmp_path / "unknown.jsonl")[0]
    for key in ("dataset", "seed", "kimg", "d_steps", "g_steps", "sample_mode"):
        assert written[key] is None, key
    assert written["method"] == "generated"
    assert given["dataset"] == "digits"
    assert given["seed"] == 4
    assert given["sample_mode"] == "refined"
    assert given["protocol_id"] != unknown["protocol_id"]


def test_evaluate_images_rejects_float_pixels_naming_file(tmp_path):
    from nats.evaluation import evaluate_images
    from nats.metrics.adapter import ImageRangeError

    images_path = tmp_path / "pixels.npz"
    np.savez(images_path, images=np.full((4, 16, 16), 200.0, dtype=np.float32))
    evaluation = {"images": {"protocols": ["clean"]}}

    with pytest.raises(ImageRangeError, match=r"pixels\.npz.*\[0, 255\] pixel values, convert them with x / 127\.5 - 1"):
        evaluate_images(images_path, tmp_path / "out.jsonl", None, evaluation, dataset="digits")


def test_evaluate_images_checks_all_weights_first(tmp_path):
    from nats.evaluation import evaluate_images
    from nats.metrics.weights import InceptionWeightsError, write_random_cleanfid_weights

    images_path = write_reference(tmp_path / "generated.npz", count=12)
    reference_path = write_reference(tmp_path / "reference.npz", count=10)
    kid_only = {"num_generated": 12, "reference": str(reference_path), "kid_subsets": 2, "kid_subset_size": 5,
                "metrics": ["kid"]}
    evaluation = {
        "clean": kid_only,
        "inception": {**kid_only, "density_coverage": False},
        "images": {"protocols": ["clean", "inception"], "cache_dir": str(tmp_path / "cache")},
        "inception_weights": {
            "clean_fid": str(write_random_cleanfid_weights(tmp_path / "cleanfid.pt")),
            "torch_fidelity": str(tmp_path / "missing.pth"),
        },
    }

    with pytest.raises(InceptionWeightsError, match="missing.pth"):
        evaluate_images(images_path, tmp_path / "out.jsonl", None, evaluation)

    assert not (tmp_path / "cache").exists()
    assert not (tmp_path / "out.jsonl").exists()
