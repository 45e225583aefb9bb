import math

import pandas as pd
import pytest

from nats.report import ProtocolMismatchError, ReportInputError, aggregate_metrics, write_tables

TABLE_NAMES = ("main", "digits", "ring8", "grid25")


def read_table_csv(tables_dir, name):
    return pd.read_csv(tables_dir / f"{name}.csv", keep_default_na=False, na_values=[""])


def cell(frame, label, dataset, metric):
    rows = frame.loc[(frame["method_label"] == label) & (frame["dataset"] == dataset) & (frame["metric"] == metric)]
    assert len(rows) == 1, f"expected one cell for {label} {dataset} {metric}, got {len(rows)}"
    return rows.iloc[0]


def markdown_row(markdown, label):
    rows = [line for line in markdown.splitlines() if line.startswith(f"| {label} ")]
    assert len(rows) == 1, f"expected one Markdown row for {label!r}"
    return [text.strip() for text in rows[0].strip("|").split("|")]


def test_tables_writes_three_formats_per_table(metrics_csv, tmp_path):
    tables_dir = tmp_path / "tables"
    written = write_tables(metrics_csv, tables_dir)

    expected = {tables_dir / f"{name}.{extension}" for name in TABLE_NAMES for extension in ("md", "tex", "csv")}
    assert set(written) == expected
    for path in written:
        assert path.stat().st_size > 0
    assert sorted(path.name for path in tables_dir.iterdir()) == sorted(path.name for path in expected)


def test_tables_mean_std_n_known_answers(metrics_csv, tmp_path):
    write_tables(metrics_csv, tmp_path)
    main = read_table_csv(tmp_path, "main")

    # Final-checkpoint values are base + seed for seeds 0, 1, 2: mean base + 1, std 1.
    refined_fd = cell(main, "cfg (refined)", "digits", "fd2k_digits")
    assert refined_fd["mean"] == pytest.approx(11.0)
    assert refined_fd["std"] == pytest.approx(1.0)
    assert refined_fd["n"] == 3
    assert refined_fd["final_kimg_max"] == 20.0

    generator_cs = cell(main, "cfg (generator)", "digits", "cs2k_s10")
    assert generator_cs["mean"] == pytest.approx(7.0)
    assert generator_cs["std"] == pytest.approx(1.0)

    sngan_fd = cell(main, "sngan", "digits", "fd2k_digits")
    assert sngan_fd["mean"] == pytest.approx(6.0)
    assert sngan_fd["n"] == 3


def test_tables_every_cell_is_finite(metrics_csv, tmp_path):
    write_tables(metrics_csv, tmp_path)

    for name in TABLE_NAMES:
        frame = read_table_csv(tmp_path, name)
        assert not frame.empty
        assert frame["mean"].map(math.isfinite).all(), name
        assert frame["std"].map(math.isfinite).all(), name
        assert (frame["n"] == 3).all(), name


def test_tables_labels_show_mode_only_for_multimode_methods(metrics_csv, tmp_path):
    write_tables(metrics_csv, tmp_path)
    main = read_table_csv(tmp_path, "main")

    labels = list(dict.fromkeys(main["method_label"]))
    assert labels == ["cfg (refined)", "cfg (generator)", "sngan"]


def test_tables_main_contains_headline_metrics(metrics_csv, tmp_path):
    write_tables(metrics_csv, tmp_path)
    main = read_table_csv(tmp_path, "main")

    columns = list(dict.fromkeys(zip(main["dataset"], main["metric"])))
    assert columns == [
        ("digits", "fd2k_digits"),
        ("digits", "cs2k_s10"),
        ("ring8", "modes2.5k"),
        ("ring8", "hq2.5k"),
        ("grid25", "modes2.5k"),
        ("grid25", "hq2.5k"),
    ]
    digits = read_table_csv(tmp_path, "digits")
    assert set(digits["metric"]) == {"fd2k_digits", "cs2k_s10", "precision2k_k3", "recall2k_k3"}


def test_tables_bold_lowest_for_lower_is_better(metrics_csv, tmp_path):
    write_tables(metrics_csv, tmp_path)
    main = read_table_csv(tmp_path, "main")
    markdown = (tmp_path / "main.md").read_text()
    latex = (tmp_path / "main.tex").read_text()

    fd_cells = main.loc[main["metric"] == "fd2k_digits"]
    assert list(fd_cells.loc[fd_cells["is_best"], "method_label"]) == ["sngan"]
    # Markdown columns: method, digits fd, digits cs, ...
    assert markdown_row(markdown, "sngan")[1] == "**6.00 ± 1.00 [3.52, 8.48]**"
    assert markdown_row(markdown, "cfg (refined)")[1] == "11.00 ± 1.00 [8.52, 13.48]"
    assert r"sngan & \textbf{6.00 $\pm$ 1.00 [3.52, 8.48]} &" in latex


def test_tables_bold_nothing_when_all_tie(metrics_csv, tmp_path):
    metrics = pd.read_csv(metrics_csv, keep_default_na=False, na_values=[""], dtype=str)
    metrics.loc[metrics["metric"] == "modes2.5k", "value"] = "8.0"
    tied_csv = tmp_path / "tied.csv"
    metrics.to_csv(tied_csv, index=False)

    write_tables(tied_csv, tmp_path / "tables")
    main = read_table_csv(tmp_path / "tables", "main")

    modes = main.loc[main["metric"] == "modes2.5k"]
    assert len(modes) > 1
    assert not modes["is_best"].astype(str).isin(["True", "true"]).any()


def test_tables_bold_highest_for_higher_is_better(metrics_csv, tmp_path):
    write_tables(metrics_csv, tmp_path)
    main = read_table_csv(tmp_path, "main")
    markdown = (tmp_path / "main.md").read_text()
    latex = (tmp_path / "main.tex").read_text()

    cs_cells = main.loc[main["metric"] == "cs2k_s10"]
    assert list(cs_cells.loc[cs_cells["is_best"], "method_label"]) == ["cfg (refined)"]
    assert markdown_row(markdown, "cfg (refined)")[2] == "**9.00 ± 1.00 [6.52, 11.48]**"
    assert markdown_row(markdown, "sngan")[2] == "5.00 ± 1.00 [2.52, 7.48]"
    assert r"cfg (refined) & 11.00 $\pm$ 1.00 [8.52, 13.48] & \textbf{9.00 $\pm$ 1.00 [6.52, 11.48]} &" in latex


def test_tables_headers_show_metric_and_direction(metrics_csv, tmp_path):
    write_tables(metrics_csv, tmp_path)
    markdown = (tmp_path / "main.md").read_text()
    latex = (tmp_path / "main.tex").read_text()
    ring8_markdown = (tmp_path / "ring8.md").read_text()

    assert "digits fd2k_digits ↓" in markdown
    assert "digits cs2k_s10 ↑" in markdown
    assert "ring8 modes2.5k ↑" in markdown
    assert "rkl2.5k ↓" in ring8_markdown
    assert r"fd2k\_digits $\downarrow$" in latex
    assert r"cs2k\_s10 $\uparrow$" in latex
    assert r"\multicolumn{2}{c}{digits}" in latex


def test_tables_latex_uses_booktabs(metrics_csv, tmp_path):
    write_tables(metrics_csv, tmp_path)
    latex = (tmp_path / "main.tex").read_text()

    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\cmidrule(lr){2-3}"):
        assert rule in latex
    assert latex.count(r"\begin{tabular}{lcccccc}") == 1
    assert "_" not in latex.split(r"\begin{table}")[1].replace(r"\_", "")


def test_tables_footer_states_seeds_statistic_checkpoint(metrics_csv, tmp_path):
    write_tables(metrics_csv, tmp_path)

    for extension in ("md", "tex"):
        text = (tmp_path / f"main.{extension}").read_text()
        assert "n = 3 seeds" in text
        assert "mean" in text
        assert "standard deviation" in text
        assert "final checkpoint of each run (kimg 20)" in text


def test_tables_uneven_seed_count_marks_cell(tmp_path, fake_results):
    runs_dir = tmp_path / "runs"
    fake_results.write_results_tree(runs_dir, with_samples=False)
    for path in (runs_dir / "digits" / "sngan" / "seed2").iterdir():
        path.unlink()
    aggregate_metrics(runs_dir, tmp_path / "metrics.csv")

    write_tables(tmp_path / "metrics.csv", tmp_path / "tables")
    main = read_table_csv(tmp_path / "tables", "main")
    markdown = (tmp_path / "tables" / "main.md").read_text()

    sngan_fd = cell(main, "sngan", "digits", "fd2k_digits")
    # Seeds 0 and 1 only: values 5 and 6.
    assert sngan_fd["n"] == 2
    assert sngan_fd["mean"] == pytest.approx(5.5)
    assert sngan_fd["std"] == pytest.approx(math.sqrt(0.5))
    assert markdown_row(markdown, "sngan")[1] == "**5.50 ± 0.71 [-0.85, 11.85]** (n=2)"


def test_tables_single_seed_shows_mean_only(tmp_path, fake_results):
    runs_dir = tmp_path / "runs"
    fake_results.write_results_tree(runs_dir, seeds=(0,), with_samples=False)
    aggregate_metrics(runs_dir, tmp_path / "metrics.csv")

    write_tables(tmp_path / "metrics.csv", tmp_path / "tables")
    main = read_table_csv(tmp_path / "tables", "main")
    markdown = (tmp_path / "tables" / "main.md").read_text()

    assert (main["n"] == 1).all()
    assert main["std"].isna().all()
    assert markdown_row(markdown, "sngan")[1] == "**5.00**"
    assert "n = 1 seed (seeds 0)" in markdown


def test_tables_use_largest_kimg_per_run(tmp_path, fake_results):
    runs_dir = tmp_path / "runs"
    records = fake_results.run_records("digits", "sngan", 0)
    # The same final kimg twice: the checkpoint with more steps wins.
    extra = [dict(record, checkpoint="final", d_steps=record["d_steps"] + 1, value=record["value"] - 1.0)
             for record in records if record["kimg"] == 20.0]
    fake_results.write_metrics_file(runs_dir, "digits", "sngan", 0, records + extra)
    aggregate_metrics(runs_dir, tmp_path / "metrics.csv")

    write_tables(tmp_path / "metrics.csv", tmp_path / "tables")
    digits = read_table_csv(tmp_path / "tables", "digits")

    sngan_fd = cell(digits, "sngan", "digits", "fd2k_digits")
    assert sngan_fd["n"] == 1
    assert sngan_fd["mean"] == pytest.approx(4.0)


def test_tables_mixed_protocols_raise(tmp_path, fake_results):
    runs_dir = tmp_path / "runs"
    fake_results.write_results_tree(runs_dir, with_samples=False)
    records = fake_results.run_records("digits", "sngan", 1)
    for record in records:
        if record["metric"] == "fd2k_digits":
            record["protocol"] = fake_results.make_protocol("digits", "fd2k_digits", "generator", num_generated=500, seed=1)
            record["protocol_id"] = fake_results.protocol_hash(record["protocol"])
    odd_id = next(record["protocol_id"] for record in records if record["metric"] == "fd2k_digits")
    fake_results.write_metrics_file(runs_dir, "digits", "sngan", 1, records)
    aggregate_metrics(runs_dir, tmp_path / "metrics.csv")

    with pytest.raises(ProtocolMismatchError, match="fd2k_digits") as raised:
        write_tables(tmp_path / "metrics.csv", tmp_path / "tables")
    assert odd_id in str(raised.value)
    assert "protocol_num_generated" in str(raised.value)


def test_tables_mixed_ids_without_protocol_fields_raise(tmp_path, fake_results):
    runs_dir = tmp_path / "runs"
    records = []
    for seed, protocol_id in ((0, "aaaa1111"), (1, "bbbb2222")):
        record = fake_results.make_record("ring8", "sngan", seed, 20.0, "generator", "modes2.5k", True, 8.0, protocol={})
        record["protocol_id"] = protocol_id
        fake_results.write_metrics_file(runs_dir, "ring8", "sngan", seed, [record])
        records.append(record)
    aggregate_metrics(runs_dir, tmp_path / "metrics.csv")

    with pytest.raises(ProtocolMismatchError, match=r"modes2\.5k.*aaaa1111, bbbb2222"):
        write_tables(tmp_path / "metrics.csv", tmp_path / "tables")


def test_tables_ids_differing_in_sample_mode_pass(metrics_csv, tmp_path):
    # The fake protocols record the sample mode, so cfg (refined) and the
    # generator rows carry different ids in one column. They also record a
    # per-seed generation seed that the ids leave out.
    table = pd.read_csv(metrics_csv)
    fd_ids = table.loc[(table["metric"] == "fd2k_digits"), "protocol_id"].unique()
    assert len(fd_ids) == 2
    assert table["protocol_generation_seed"].nunique() == 3

    write_tables(metrics_csv, tmp_path)
    assert "differ only in the sample mode" in (tmp_path / "main.md").read_text()


def test_tables_conflicting_direction_raises(tmp_path, fake_results):
    runs_dir = tmp_path / "runs"
    for seed, higher_is_better in ((0, True), (1, False)):
        record = fake_results.make_record("digits", "sngan", seed, 20.0, "generator", "fd2k_digits", higher_is_better, 3.0)
        fake_results.write_metrics_file(runs_dir, "digits", "sngan", seed, [record])
    aggregate_metrics(runs_dir, tmp_path / "metrics.csv")

    with pytest.raises(ReportInputError, match="both higher- and lower-is-better"):
        write_tables(tmp_path / "metrics.csv", tmp_path / "tables")


def test_tables_several_configs_raise(metrics_csv, tmp_path):
    table = pd.read_csv(metrics_csv, dtype=str)
    table.loc[table.index[:5], "config_name"] = "paper"
    mixed_csv = tmp_path / "mixed.csv"
    table.to_csv(mixed_csv, index=False)

    with pytest.raises(ReportInputError, match="mixes configs paper, smoke"):
        write_tables(mixed_csv, tmp_path / "tables")


def test_tables_csv_matches_metrics_table(metrics_csv, tmp_path):
    write_tables(metrics_csv, tmp_path)
    digits = read_table_csv(tmp_path, "digits")

    metrics = pd.read_csv(metrics_csv)
    final = metrics.loc[(metrics["dataset"] == "digits") & (metrics["kimg"] == 20.0)]
    expected = final.groupby(["method", "sample_mode", "metric"])["value"].agg(["mean", "std", "count"])
    assert len(digits) == len(expected)
    for row in digits.itertuples():
        expected_cell = expected.loc[(row.method, row.sample_mode, row.metric)]
        assert row.mean == pytest.approx(expected_cell["mean"])
        assert row.std == pytest.approx(expected_cell["std"])
        assert row.n == expected_cell["count"]
    assert list(digits.columns[:9]) == [
        "method_label", "method", "sample_mode", "dataset", "metric", "higher_is_better", "mean", "std", "n",
    ]
    assert digits["higher_is_better"].dtype == bool
    assert digits["is_best"].dtype == bool
