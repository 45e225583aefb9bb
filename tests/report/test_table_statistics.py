"""Confidence intervals, Welch markers, diverged runs, published values and cost columns in tables."""

import math

import pandas as pd
import pytest

from nats.report import aggregate_metrics
from nats.report.aggregate import read_metrics_csv
from nats.report.tables import write_tables

METRIC = "fid50k_train"


def inception_protocol(sample_mode, seed, num_real=50000):
    return {
        "name": "inception",
        "weights_published": True,
        "num_generated": 50000,
        "num_real": num_real,
        "reference_split": "train",
        "is_splits": 10,
        "sample_mode": sample_mode,
        "generation_seed": seed + 1000,
    }


def write_cell(fake_results, runs_dir, method, values, diverged_seeds=(), num_real=50000, dataset="cifar10"):
    for seed, value in enumerate(values):
        protocol = inception_protocol("generator", seed, num_real)
        record = fake_results.make_record(dataset, method, seed, 20.0, "generator", METRIC, False, value, protocol)
        record["wall_s"] = 100.0 + seed
        records = [record]
        if seed in diverged_seeds:
            records = [{**record, "value": math.nan, "kimg": 25.0, "checkpoint": "diverged25kimg", "status": "diverged"}]
        fake_results.write_metrics_file(runs_dir, dataset, method, seed, records)


def markdown_cell(markdown, label):
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] == label:
            return cells[1]
    raise AssertionError(f"no row {label!r} in\n{markdown}")


def render(tmp_path, **options):
    runs_dir = tmp_path / "runs"
    aggregate_metrics(runs_dir, tmp_path / "metrics.csv")
    write_tables(tmp_path / "metrics.csv", tmp_path / "tables", **options)
    return (tmp_path / "tables" / "cifar10.md").read_text(), pd.read_csv(tmp_path / "tables" / "cifar10.csv")


def test_interval_uses_t_distribution(tmp_path, fake_results):
    write_cell(fake_results, tmp_path / "runs", "sngan", [10.0, 11.0, 12.0])

    _, cells = render(tmp_path, published_values=None)

    (cell,) = cells.itertuples()
    half_width = 4.302652729911275 * 1.0 / math.sqrt(3)
    assert cell.n == 3
    assert cell.ci95_low == pytest.approx(11.0 - half_width)
    assert cell.ci95_high == pytest.approx(11.0 + half_width)


def test_welch_marks_significant_nats_variant(tmp_path, fake_results):
    write_cell(fake_results, tmp_path / "runs", "sngan", [10.0, 11.0, 12.0])
    write_cell(fake_results, tmp_path / "runs", "nats-sngan", [5.0, 6.0, 7.0])
    write_cell(fake_results, tmp_path / "runs", "wgan-gp", [10.0, 11.0, 12.0])
    write_cell(fake_results, tmp_path / "runs", "nats-wgan-gp", [10.5, 11.5, 12.5])

    markdown, cells = render(tmp_path, published_values=None)

    by_method = cells.set_index("method")
    assert by_method.loc["nats-sngan", "welch_p"] < 0.05
    assert by_method.loc["nats-wgan-gp", "welch_p"] > 0.05
    assert math.isnan(by_method.loc["sngan", "welch_p"])
    assert markdown_cell(markdown, "nats-sngan").endswith("†")
    assert not markdown_cell(markdown, "nats-wgan-gp").endswith("†")
    assert "Welch's two-sided t-test" in markdown


def test_diverged_runs_counted_not_averaged(tmp_path, fake_results):
    write_cell(fake_results, tmp_path / "runs", "sngan", [10.0, 12.0, 99.0], diverged_seeds=(2,))
    write_cell(fake_results, tmp_path / "runs", "wgan-gp", [1.0, 2.0], diverged_seeds=(0, 1))

    markdown, cells = render(tmp_path, published_values=None)

    by_method = cells.set_index("method")
    assert by_method.loc["sngan", "mean"] == pytest.approx(11.0)
    assert by_method.loc["sngan", "n"] == 2
    assert by_method.loc["sngan", "n_diverged"] == 1
    assert markdown_cell(markdown, "sngan").endswith("(1 diverged)")
    assert markdown_cell(markdown, "wgan-gp") == "diverged"


def test_status_column_in_metrics_table(tmp_path, fake_results):
    write_cell(fake_results, tmp_path / "runs", "sngan", [10.0, 12.0], diverged_seeds=(1,))

    aggregate_metrics(tmp_path / "runs", tmp_path / "metrics.csv")
    table = read_metrics_csv(tmp_path / "metrics.csv")

    assert sorted(table["status"]) == ["diverged", "ok"]
    assert table.loc[table["status"] == "diverged", "value"].isna().all()


def test_published_value_shown_in_matching_column(tmp_path, fake_results):
    write_cell(fake_results, tmp_path / "runs", "sngan", [15.0, 16.0, 17.0])

    markdown, _ = render(tmp_path)

    label = "sngan (published: mimicry README (kwotsin/mimicry), 100K iterations, n_dis 5, Adam 2e-4 (0, 0.9), batch 64)"
    assert markdown_cell(markdown, label) == "16.77 ± 0.04"


def test_published_value_left_out_under_other_protocol(tmp_path, fake_results, caplog):
    write_cell(fake_results, tmp_path / "runs", "sngan", [15.0, 16.0, 17.0], num_real=10000)

    markdown, _ = render(tmp_path)

    assert "published" not in markdown
    assert "another protocol" in caplog.text


def test_cost_columns_show_mean_wall_time(tmp_path, fake_results):
    write_cell(fake_results, tmp_path / "runs", "sngan", [15.0, 16.0, 17.0])

    markdown, _ = render(tmp_path, cost_columns=True, published_values=None)

    header = next(line for line in markdown.splitlines() if line.startswith("| method"))
    assert "wall time (s)" in header
    row = [cell.strip() for cell in next(line for line in markdown.splitlines() if line.startswith("| sngan")).strip("|").split("|")]
    assert row[2:] == ["20.0", "2000", "400.0", "101.0"]
