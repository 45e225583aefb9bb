"""Records of image sets scored from disk: null dataset, seed, kimg and steps, and stand-in weights.

The records are made by ``nats.metrics.records.make_records`` with the
arguments ``nats.evaluation.evaluate_images`` passes, then aggregated and
tabled by the real report code.
"""

import json

import pandas as pd
import pytest

from nats.metrics.records import MetricValue, make_records, write_records
from nats.report import aggregate_metrics, read_metrics_csv, write_tables
from nats.report.tables import STAND_IN_WEIGHTS_MARK

PROTOCOL = {
    "name": "inception",
    "weights_sha256": "ab" * 32,
    "weights_published": False,
    "num_generated": 2100,
    "reference_pixels_sha256": "cd" * 32,
}


def image_set_records(label: str, fid: float, seed: int | None = None, dataset: str | None = None) -> list[dict]:
    protocol = {**PROTOCOL, "sample_mode": None, "generation_seed": None, "generated_images": f"{label}.npz"}
    return make_records(
        [MetricValue("fid2100_train", fid, higher_is_better=False)],
        config_name="images", dataset=dataset, method=label, seed=seed, checkpoint="images",
        kimg=None, d_steps=None, g_steps=None, sample_mode=None, protocol=protocol,
    )


@pytest.fixture
def metrics_csv(tmp_path):
    runs_dir = tmp_path / "scored"
    # Two seeds of sngan and one image set of unknown seed.
    for name, records in {
        "first": image_set_records("sngan", 30.0, seed=0),
        "second": image_set_records("sngan", 34.0, seed=1),
        "third": image_set_records("nats-sngan", 20.0),
    }.items():
        (runs_dir / name).mkdir(parents=True)
        write_records(records, runs_dir / name / "metrics.jsonl")
    aggregate_metrics(runs_dir, tmp_path / "metrics.csv")
    return tmp_path / "metrics.csv"


def test_records_write_null_for_unknown_values(tmp_path):
    write_records(image_set_records("sngan", 30.0), tmp_path / "metrics.jsonl")

    (written,) = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]

    for key in ("dataset", "seed", "kimg", "d_steps", "g_steps", "sample_mode"):
        assert written[key] is None, key


def test_aggregate_keeps_null_seed_and_kimg(metrics_csv):
    table = read_metrics_csv(metrics_csv)

    assert len(table) == 3
    assert table["seed"].isna().sum() == 1
    assert sorted(table["seed"].dropna().tolist()) == [0, 1]
    assert table["kimg"].isna().all()
    assert table["dataset"].isna().all()


def test_tables_average_image_sets_with_nulls(metrics_csv, tmp_path):
    write_tables(metrics_csv, tmp_path, published_values=None)

    cells = pd.read_csv(tmp_path / "unknown.csv")
    sngan = cells.loc[cells["method_label"] == "sngan"].iloc[0]
    assert sngan["mean"] == pytest.approx(32.0)
    assert sngan["n"] == 2
    assert cells.loc[cells["method_label"] == "nats-sngan", "mean"].item() == pytest.approx(20.0)
    assert cells["stand_in_weights"].all()


def test_tables_mark_stand_in_weights_and_unknown_seeds(metrics_csv, tmp_path):
    write_tables(metrics_csv, tmp_path, published_values=None)

    markdown = (tmp_path / "main.md").read_text(encoding="utf-8")
    rows = [line for line in markdown.splitlines() if line.startswith("| sngan ")]
    assert len(rows) == 1
    assert STAND_IN_WEIGHTS_MARK in rows[0]
    assert "not the published file" in markdown
    assert "seeds 0, 1, unknown" in markdown
    assert "image sets scored from disk, which have no kimg" in markdown


def test_same_label_without_seed_keeps_last_set(tmp_path, caplog):
    # Without --seed two image sets of one label share every key of a row,
    # so aggregation keeps the later one and logs a warning.
    for name, fid in (("first", 30.0), ("second", 34.0)):
        (tmp_path / name).mkdir()
        write_records(image_set_records("sngan", fid), tmp_path / name / "metrics.jsonl")

    table = aggregate_metrics(tmp_path, tmp_path / "metrics.csv")

    assert table["value"].tolist() == [34.0]
    assert "repeat an earlier run" in caplog.text
