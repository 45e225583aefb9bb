import json
import math

import pandas as pd
import pytest

from nats.report import MetricsFileError, aggregate_metrics, read_metrics_csv
from nats.report.aggregate import ROW_KEY


def test_aggregate_has_one_row_per_record(runs_dir, tmp_path):
    table = aggregate_metrics(runs_dir, tmp_path / "metrics.csv")

    # digits: 4 metrics, mixtures: 3 each; cfg has 2 sample modes, sngan 1;
    # 3 seeds and 3 checkpoints.
    expected_rows = (4 + 3 + 3) * (2 + 1) * 3 * 3
    assert len(table) == expected_rows
    assert not table.duplicated(subset=ROW_KEY).any()


def test_aggregate_values_match_written_records(runs_dir, tmp_path):
    table = aggregate_metrics(runs_dir, tmp_path / "metrics.csv")

    row = table.loc[
        (table["dataset"] == "digits") & (table["method"] == "cfg") & (table["seed"] == 2)
        & (table["kimg"] == 10.0) & (table["sample_mode"] == "refined") & (table["metric"] == "fd2k_digits")
    ]
    assert len(row) == 1
    # base 10 + seed 2 + 0.5 * (20 - 10)
    assert row["value"].item() == 17.0
    assert bool(row["higher_is_better"].item()) is False
    assert math.isnan(row["std"].item())
    assert row["checkpoint"].item() == "kimg000010"
    assert row["d_steps"].item() == 1000


def test_aggregate_flattens_protocol(runs_dir, tmp_path, fake_results):
    table = aggregate_metrics(runs_dir, tmp_path / "metrics.csv")

    assert "protocol_id" in table.columns
    assert "protocol_num_generated" in table.columns
    assert "protocol_extractor.sha256" in table.columns
    assert "protocol_extractor.name" in table.columns
    assert "protocol" not in table.columns
    first = table.iloc[0]
    assert first["protocol_num_generated"] == "2000"
    assert first["protocol_extractor.sha256"] == "0" * 64
    assert json.loads(first["protocol_library_versions"]) == ["torch-fidelity 0.4.0"]
    expected_id = fake_results.protocol_hash(fake_results.make_protocol(first["dataset"], first["metric"], first["sample_mode"]))
    assert first["protocol_id"] == expected_id


def test_aggregate_sorts_rows(runs_dir, tmp_path):
    table = aggregate_metrics(runs_dir, tmp_path / "metrics.csv")

    resorted = table.sort_values(ROW_KEY, kind="mergesort").reset_index(drop=True)
    pd.testing.assert_frame_equal(table, resorted)
    assert list(table.columns[: len(ROW_KEY)]) == ROW_KEY


def test_aggregate_csv_round_trips(runs_dir, tmp_path):
    out_csv = tmp_path / "out" / "metrics.csv"
    table = aggregate_metrics(runs_dir, out_csv)

    reread = read_metrics_csv(out_csv)
    pd.testing.assert_frame_equal(reread, table)
    assert reread["seed"].dtype.kind == "i"
    assert reread["higher_is_better"].dtype == bool
    assert reread["value"].dtype.kind == "f"


def test_aggregate_csv_keeps_numeric_looking_text(tmp_path, fake_results):
    runs = tmp_path / "runs"
    protocol = {"sha256": "0123", "flag": "NA", "count": 7, "missing": None, "share": 0.5}
    record = fake_results.make_record("digits", "sngan", 0, 20.0, "generator", "fd2k_digits", False, 1.5, protocol)
    record["protocol_id"] = "00123456"
    fake_results.write_metrics_file(runs, "digits", "sngan", 0, [record])

    table = aggregate_metrics(runs, tmp_path / "metrics.csv")
    reread = read_metrics_csv(tmp_path / "metrics.csv")

    pd.testing.assert_frame_equal(reread, table)
    assert reread["protocol_id"].item() == "00123456"
    assert reread["protocol_sha256"].item() == "0123"
    assert reread["protocol_flag"].item() == "NA"
    assert reread["protocol_count"].item() == "7"
    assert reread["protocol_missing"].item() == "null"
    assert reread["protocol_share"].item() == "0.5"


def test_aggregate_leaves_no_temporary_files(runs_dir, tmp_path):
    out_dir = tmp_path / "out"
    aggregate_metrics(runs_dir, out_dir / "metrics.csv")
    aggregate_metrics(runs_dir, out_dir / "metrics.csv")

    assert sorted(path.name for path in out_dir.iterdir()) == ["metrics.csv"]


def test_aggregate_without_metrics_files_names_folder(tmp_path):
    empty_runs = tmp_path / "runs"
    empty_runs.mkdir()

    with pytest.raises(MetricsFileError, match=str(empty_runs)):
        aggregate_metrics(empty_runs, tmp_path / "metrics.csv")
    assert not (tmp_path / "metrics.csv").exists()


def test_aggregate_with_only_empty_files_raises(tmp_path, fake_results):
    runs = tmp_path / "runs"
    fake_results.write_metrics_file(runs, "digits", "cfg", 0, [])

    with pytest.raises(MetricsFileError, match="contain no records"):
        aggregate_metrics(runs, tmp_path / "metrics.csv")


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({"metric": "fd2k_digits"}), "missing keys"),
    ],
)
def test_aggregate_malformed_line_names_file_and_line(tmp_path, fake_results, bad_line, message):
    runs = tmp_path / "runs"
    good_records = fake_results.run_records("digits", "sngan", 0)[:2]
    metrics_path = fake_results.write_metrics_file(runs, "digits", "sngan", 0, good_records)
    with open(metrics_path, "a") as metrics_file:
        metrics_file.write("\n" + bad_line + "\n")

    # Two records on lines 1-2, a blank line 3, the bad line 4.
    with pytest.raises(MetricsFileError, match=rf"{metrics_path}:4: {message}"):
        aggregate_metrics(runs, tmp_path / "metrics.csv")


@pytest.mark.parametrize(
    "key, bad_value",
    [("value", "12.5"), ("seed", True), ("higher_is_better", 1), ("protocol", "abc"), ("std", "none")],
)
def test_aggregate_wrong_type_names_key(tmp_path, fake_results, key, bad_value):
    runs = tmp_path / "runs"
    record = fake_results.run_records("digits", "sngan", 0)[0]
    record[key] = bad_value
    metrics_path = fake_results.write_metrics_file(runs, "digits", "sngan", 0, [record])

    with pytest.raises(MetricsFileError, match=rf"{metrics_path}:1: key '{key}' must be"):
        aggregate_metrics(runs, tmp_path / "metrics.csv")


def test_aggregate_repeated_record_keeps_last_line(tmp_path, fake_results):
    runs = tmp_path / "runs"
    first = fake_results.run_records("digits", "sngan", 0)[0]
    repeated = dict(first, value=first["value"] + 100.0)
    fake_results.write_metrics_file(runs, "digits", "sngan", 0, [first, repeated])

    table = aggregate_metrics(runs, tmp_path / "metrics.csv")

    assert len(table) == 1
    assert table["value"].item() == first["value"] + 100.0


def test_read_metrics_csv_missing_file_raises(tmp_path):
    with pytest.raises(MetricsFileError, match="not found"):
        read_metrics_csv(tmp_path / "absent.csv")


def test_read_metrics_csv_missing_column_raises(tmp_path):
    path = tmp_path / "metrics.csv"
    pd.DataFrame({"dataset": ["digits"], "value": [1.0]}).to_csv(path, index=False)

    with pytest.raises(MetricsFileError, match="is missing columns"):
        read_metrics_csv(path)
