import json
import math

import pytest

from nats.metrics.records import (
    MetricValue,
    count_label,
    make_records,
    protocol_id,
    read_records,
    write_records,
)

PROTOCOL = {"name": "mixtures", "num_samples": 2500, "sample_mode": "generator", "generation_seed": 10000}


@pytest.mark.parametrize(
    "count, label",
    [(2000, "2k"), (2500, "2.5k"), (500, "500"), (50000, "50k"), (10000, "10k"), (1250, "1.25k"), (1234, "1234"), (1, "1")],
)
def test_count_label(count, label):
    assert count_label(count) == label


@pytest.mark.parametrize("count", [0, -5, 2.5, "2000"])
def test_count_label_rejects_non_counts(count):
    with pytest.raises(ValueError, match="positive integer"):
        count_label(count)


def test_protocol_id_ignores_key_order_and_generation_seed():
    reordered = dict(reversed(list(PROTOCOL.items())))
    other_seed = {**PROTOCOL, "generation_seed": 10002}

    assert protocol_id(reordered) == protocol_id(PROTOCOL)
    assert protocol_id(other_seed) == protocol_id(PROTOCOL)
    assert len(protocol_id(PROTOCOL)) == 12


def test_protocol_id_changes_with_protocol():
    assert protocol_id({**PROTOCOL, "sample_mode": "refined"}) != protocol_id(PROTOCOL)
    assert protocol_id({**PROTOCOL, "num_samples": 5000}) != protocol_id(PROTOCOL)


def make_example_records():
    values = [MetricValue("modes2.5k", 8.0, True), MetricValue("cs2k_s10", 9.5, True, std=0.1)]
    return make_records(
        values,
        config_name="smoke",
        dataset="ring8",
        method="cfg",
        seed=1,
        checkpoint="kimg000010",
        kimg=10,
        d_steps=40,
        g_steps=3,
        sample_mode="generator",
        protocol=PROTOCOL,
    )


def test_record_fields():
    first, second = make_example_records()

    assert first == {
        "config_name": "smoke",
        "dataset": "ring8",
        "method": "cfg",
        "seed": 1,
        "checkpoint": "kimg000010",
        "kimg": 10.0,
        "d_steps": 40,
        "g_steps": 3,
        "sample_mode": "generator",
        "metric": "modes2.5k",
        "value": 8.0,
        "higher_is_better": True,
        "std": None,
        "protocol": PROTOCOL,
        "protocol_id": protocol_id(PROTOCOL),
        "status": "ok",
    }
    assert second["std"] == 0.1
    assert isinstance(first["kimg"], float)


def test_records_round_trip_as_json_lines(tmp_path):
    records = make_example_records()
    path = tmp_path / "out" / "metrics.jsonl"

    write_records(records, path)

    lines = path.read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["metric"] == "modes2.5k"
    assert read_records(path) == records
    assert [entry.name for entry in path.parent.iterdir()] == ["metrics.jsonl"]


def test_write_replaces_existing_file(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("old content\n")

    write_records(make_example_records()[:1], path)

    assert len(read_records(path)) == 1


def test_non_finite_values_survive_round_trip(tmp_path):
    records = make_example_records()
    records[0]["value"] = math.inf
    path = tmp_path / "metrics.jsonl"

    write_records(records, path)

    assert read_records(path)[0]["value"] == math.inf
