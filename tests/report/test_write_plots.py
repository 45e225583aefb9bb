import logging

import matplotlib.image
import numpy as np
import pytest

from nats.report import (
    ProtocolMismatchError,
    ReportInputError,
    SamplesFileError,
    aggregate_metrics,
    read_metrics_csv,
    write_plots,
)
from nats.report.plots import draw_metric_curve, summarise_curve, tile_images
from nats.report.tables import add_method_labels

CURVE_STEMS = [
    "digits_fd2k_digits", "digits_cs2k_s10",
    "ring8_modes2.5k", "ring8_hq2.5k",
    "grid25_modes2.5k", "grid25_hq2.5k",
]
SAMPLE_STEMS = [
    f"{dataset}_{method}_seed0" for dataset in ("digits", "ring8", "grid25") for method in ("cfg", "sngan")
]


@pytest.fixture(scope="module")
def plotted(tmp_path_factory, fake_results):
    """One full plotting run over 3 datasets x 2 methods x 3 seeds, shared by the tests below."""
    root = tmp_path_factory.mktemp("plots")
    runs_dir = fake_results.write_results_tree(root / "runs")
    metrics_csv = root / "metrics.csv"
    aggregate_metrics(runs_dir, metrics_csv)
    out_dir = root / "plots"
    return out_dir, write_plots(metrics_csv, runs_dir, out_dir), metrics_csv


def test_plots_write_png_and_pdf_per_figure(plotted):
    out_dir, written, _ = plotted

    expected = {out_dir / "curves" / f"{stem}.{extension}" for stem in CURVE_STEMS for extension in ("png", "pdf")}
    expected |= {out_dir / "samples" / f"{stem}.{extension}" for stem in SAMPLE_STEMS for extension in ("png", "pdf")}
    assert set(written) == expected
    assert len(written) == len(expected)


def test_plots_png_pixels_finite_and_varied(plotted):
    _, written, _ = plotted

    for path in written:
        if path.suffix != ".png":
            continue
        pixels = matplotlib.image.imread(path)
        assert pixels.ndim == 3, path
        assert np.isfinite(pixels).all(), path
        assert pixels.std() > 0.01, f"{path} is blank"


def test_plots_pdf_files_are_complete(plotted):
    _, written, _ = plotted

    for path in written:
        if path.suffix != ".pdf":
            continue
        content = path.read_bytes()
        assert content.startswith(b"%PDF"), path
        assert b"%%EOF" in content[-32:], path


def test_plots_leave_no_temporary_files(plotted):
    out_dir, written, _ = plotted

    on_disk = {path for path in out_dir.rglob("*") if path.is_file()}
    assert on_disk == set(written)


def test_curve_summary_known_answers(plotted):
    _, _, metrics_csv = plotted
    table = add_method_labels(read_metrics_csv(metrics_csv))
    rows = table.loc[(table["dataset"] == "digits") & (table["metric"] == "fd2k_digits") & (table["method_label"] == "sngan")]

    curve = summarise_curve(rows)

    # sngan fd2k_digits: 5 + seed + 0.5 * (20 - kimg) over seeds 0, 1, 2.
    assert list(curve["kimg"]) == [0.0, 10.0, 20.0]
    assert list(curve["mean"]) == pytest.approx([16.0, 11.0, 6.0])
    assert list(curve["std"]) == pytest.approx([1.0, 1.0, 1.0])
    assert list(curve["n"]) == [3, 3, 3]


def test_curve_band_only_with_several_seeds(tmp_path, fake_results):
    for seeds, expected_bands in (((0, 1, 2), 3), ((0,), 0)):
        runs_dir = fake_results.write_results_tree(tmp_path / f"runs{len(seeds)}", seeds=seeds, with_samples=False)
        metrics_csv = tmp_path / f"metrics{len(seeds)}.csv"
        aggregate_metrics(runs_dir, metrics_csv)
        table = add_method_labels(read_metrics_csv(metrics_csv))
        rows = table.loc[(table["dataset"] == "digits") & (table["metric"] == "fd2k_digits")]

        figure = draw_metric_curve("digits", "fd2k_digits", rows, {"cfg (refined)": "C0", "cfg (generator)": "C1", "sngan": "C2"})

        axes = figure.axes[0]
        assert len(axes.lines) == 3
        assert len(axes.collections) == expected_bands, f"seeds {seeds}"
        for line in axes.lines:
            assert np.isfinite(line.get_ydata()).all()


def test_plots_single_seed_without_samples(tmp_path, fake_results, caplog):
    runs_dir = fake_results.write_results_tree(tmp_path / "runs", seeds=(0,), with_samples=False)
    aggregate_metrics(runs_dir, tmp_path / "metrics.csv")

    with caplog.at_level(logging.WARNING, logger="nats.report.plots"):
        written = write_plots(tmp_path / "metrics.csv", runs_dir, tmp_path / "plots")

    assert sorted(path.name for path in written) == sorted(f"{stem}.{ext}" for stem in CURVE_STEMS for ext in ("png", "pdf"))
    assert "no samples.npz" in caplog.text


def test_tile_images_layout_and_range():
    images = np.full((100, 1, 16, 16), -1.0, dtype=np.float32)
    images[0] = 1.0

    grid = tile_images(images)

    # 10 x 10 tiles of 16 pixels with 1-pixel white gaps between them.
    assert grid.shape == (10 * 17 - 1, 10 * 17 - 1, 1)
    assert grid[:16, :16].min() == 1.0
    assert grid[:16, 17:33].max() == 0.0
    assert grid[16, :].min() == 1.0


def test_tile_images_partial_last_row():
    grid = tile_images(np.zeros((5, 3, 4, 4), dtype=np.float32))

    # ceil(sqrt(5)) = 3 columns, 2 rows; the empty tile stays white.
    assert grid.shape == (2 * 5 - 1, 3 * 5 - 1, 3)
    assert grid[5:, 10:].min() == 1.0
    assert grid[:4, :4].max() == 0.5


def test_plots_bad_sample_shape_names_file(tmp_path, fake_results):
    runs_dir = fake_results.write_results_tree(tmp_path / "runs", seeds=(0,), with_samples=False)
    aggregate_metrics(runs_dir, tmp_path / "metrics.csv")
    bad_path = runs_dir / "ring8" / "sngan" / "seed0" / "samples.npz"
    np.savez(bad_path, generator=np.zeros((10, 3), dtype=np.float32))

    with pytest.raises(SamplesFileError, match=r"samples\.npz\['generator'\] has shape \(10, 3\)"):
        write_plots(tmp_path / "metrics.csv", runs_dir, tmp_path / "plots")


def test_plots_missing_runs_dir_raises(tmp_path, fake_results):
    runs_dir = fake_results.write_results_tree(tmp_path / "runs", seeds=(0,), with_samples=False)
    aggregate_metrics(runs_dir, tmp_path / "metrics.csv")

    with pytest.raises(ReportInputError, match="absent"):
        write_plots(tmp_path / "metrics.csv", tmp_path / "absent", tmp_path / "plots")


def test_plots_mixed_protocols_raise(tmp_path, fake_results):
    runs_dir = fake_results.write_results_tree(tmp_path / "runs", seeds=(0, 1), with_samples=False)
    records = fake_results.run_records("ring8", "sngan", 1)
    for record in records:
        if record["metric"] == "hq2.5k" and record["kimg"] == 10.0:
            record["protocol"] = fake_results.make_protocol("ring8", "hq2.5k", "generator", num_generated=100, seed=1)
            record["protocol_id"] = fake_results.protocol_hash(record["protocol"])
    fake_results.write_metrics_file(runs_dir, "ring8", "sngan", 1, records)
    aggregate_metrics(runs_dir, tmp_path / "metrics.csv")

    with pytest.raises(ProtocolMismatchError, match=r"hq2\.5k.*ring8"):
        write_plots(tmp_path / "metrics.csv", runs_dir, tmp_path / "plots")


def test_metric_against_count_figure(tmp_path, fake_results):
    from nats.report import aggregate_metrics
    from nats.report.plots import metric_family, write_plots

    runs_dir = tmp_path / "runs"
    for seed in (0, 1):
        records = []
        for count, value in ((10000, 30.0), (50000, 25.0)):
            metric = f"fid{count // 1000}k_train"
            protocol = fake_results.make_protocol("digits", metric, "generator", num_generated=count, seed=seed)
            records.append(fake_results.make_record("digits", "sngan", seed, 20.0, "generator", metric, False, value + seed, protocol))
        fake_results.write_metrics_file(runs_dir, "digits", "sngan", seed, records)
    aggregate_metrics(runs_dir, tmp_path / "metrics.csv")

    written = write_plots(tmp_path / "metrics.csv", runs_dir, tmp_path / "plots")

    assert metric_family("fid50k_train") == "fid<n>_train"
    assert metric_family("hq2.5k") == "hq<n>"
    counts_figures = sorted(path.name for path in written if path.parent.name == "counts")
    assert counts_figures == ["digits_fid_n__train.pdf", "digits_fid_n__train.png"]
