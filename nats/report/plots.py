"""Figures of the results: learning curves, digit sample grids, mixture scatters.

Every figure is saved as PNG and PDF. Figures are built on
``matplotlib.figure.Figure`` with an Agg canvas, never through pyplot, so
plotting needs no display and leaves the global backend alone.
"""

import logging
import math
import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from tqdm import tqdm

from nats.data import MIXTURES
from nats.report.aggregate import read_metrics_csv, write_atomically
from nats.report.tables import (
    METHOD_ORDER,
    ReportInputError,
    add_method_labels,
    check_one_protocol_per_column,
    check_single_config,
    drop_repeated_kimg,
    headline_metrics,
    select_final_checkpoints,
    ordered_datasets,
    ordered_labels,
    rank,
)

logger = logging.getLogger(__name__)

SAMPLES_FILENAME = "samples.npz"
FIGURE_FORMATS = ("png", "pdf")
FIGURE_DPI = 150
MAX_GRID_IMAGES = 100
# Half-width of the scatter view around the mixture centres, as a multiple
# of the largest centre coordinate, so far-off samples cannot hide the modes.
SCATTER_VIEW_MARGIN = 1.5


class SamplesFileError(ReportInputError):
    """A samples.npz file contains an array the plots cannot draw."""


def write_plots(metrics_csv: Path, runs_dir: Path, out_dir: Path) -> list[Path]:
    """Draw learning curves from the metrics table and sample figures from the runs.

    ``curves/<dataset>_<metric>`` plots a headline metric against kimg, one
    line per method label: the mean over seeds, with a +-std band where
    there are several seeds. ``samples/<dataset>_<method>_seed<k>`` shows the
    lowest seed's samples.npz with one panel per sample mode: an image grid
    for images, a scatter with the mode centres for 2D mixtures.
    ``counts/<dataset>_<family>`` plots a metric measured with several
    numbers of generated images (``fid10k_train`` and ``fid50k_train``)
    against that number, at the final checkpoint. Rows of diverged runs are
    left out of every figure.

    Args:
        metrics_csv: the tidy table written by ``aggregate_metrics``.
        runs_dir: ``results/<config>/runs``, searched for
            ``<dataset>/<method>/seed<k>/samples.npz``.
        out_dir: folder that receives ``curves/`` and ``samples/``.

    Returns:
        The written files, a PNG and a PDF per figure.

    Raises:
        MetricsFileError: if ``metrics_csv`` is missing or malformed.
        ReportInputError: if ``runs_dir`` is missing or the table mixes configs.
        ProtocolMismatchError: if one curve figure would mix protocols.
        SamplesFileError: if a samples array has a shape that is neither
            images nor 2D points.
    """
    runs_dir = Path(runs_dir)
    out_dir = Path(out_dir)
    if not runs_dir.is_dir():
        raise ReportInputError(f"runs folder {runs_dir} not found; pass results/<config>/runs")

    table = read_metrics_csv(metrics_csv)
    check_single_config(table, metrics_csv)
    labelled = add_method_labels(drop_repeated_kimg(table.loc[table["status"] == "ok"]))

    written = plot_metric_curves(labelled, out_dir / "curves")
    written += plot_metric_against_count(select_final_checkpoints(labelled), out_dir / "counts")
    written += plot_samples(runs_dir, out_dir / "samples")
    logger.info("wrote %d figure files to %s", len(written), out_dir)
    return written


def plot_metric_curves(labelled: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Draw each dataset's headline metrics against kimg.

    Args:
        labelled: metric rows with a ``method_label`` column.
        out_dir: folder for the figures.

    Returns:
        The written files.
    """
    written = []
    label_colors = color_per_label(ordered_labels(labelled))
    for dataset in ordered_datasets(labelled["dataset"].unique()):
        dataset_rows = labelled.loc[labelled["dataset"] == dataset]
        for metric in headline_metrics(dataset_rows["metric"].unique()):
            metric_rows = dataset_rows.loc[dataset_rows["metric"] == metric]
            check_one_protocol_per_column(metric_rows, all_rows=labelled)
            figure = draw_metric_curve(dataset, metric, metric_rows, label_colors)
            written += save_figure(figure, out_dir / safe_filename(f"{dataset}_{metric}"))
    return written


# The first sample count in a metric name: fid50k_train -> 50k, hq2.5k -> 2.5k.
COUNT_IN_NAME = re.compile(r"(?<=[a-z])\d+(\.\d+)?k?")
COUNT_COLUMNS = ("protocol_num_generated", "protocol_num_samples")


def metric_family(metric: str) -> str:
    """Return a metric name with its sample count replaced by ``<n>``: fid50k_train -> fid<n>_train."""
    return COUNT_IN_NAME.sub("<n>", metric, count=1)


def plot_metric_against_count(final_rows: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Draw metrics measured at several sample counts against the count, one line per method label.

    Each point is the mean over seeds at the final checkpoint, with a +-std
    error bar. A family of metrics measured at one count only gets no figure.

    Args:
        final_rows: labelled rows of the final checkpoints of runs that did not diverge.
        out_dir: folder for the figures.

    Returns:
        The written files.
    """
    count_column = next((column for column in COUNT_COLUMNS if column in final_rows.columns), None)
    if count_column is None or final_rows.empty:
        return []
    rows = final_rows.assign(family=final_rows["metric"].map(metric_family))
    rows = rows.loc[rows[count_column].notna()].copy()
    rows["count"] = pd.to_numeric(rows[count_column], errors="coerce")

    written = []
    label_colors = color_per_label(ordered_labels(rows))
    for (dataset, family), family_rows in rows.groupby(["dataset", "family"]):
        if family_rows["count"].nunique() < 2:
            continue
        figure = new_figure(figsize=(6.0, 4.0))
        axes = figure.add_subplot()
        for label in ordered_labels(family_rows):
            points = (
                family_rows.loc[family_rows["method_label"] == label]
                .groupby("count")["value"]
                .agg(["mean", "std"])
                .sort_index()
            )
            axes.errorbar(points.index, points["mean"], yerr=points["std"], marker="o", markersize=3, capsize=3,
                          color=label_colors[label], label=label)
        arrow = "higher is better" if bool(family_rows["higher_is_better"].iloc[0]) else "lower is better"
        axes.set_xscale("log")
        axes.set_xlabel("number of generated images")
        axes.set_ylabel(f"{family} ({arrow})")
        axes.set_title(f"{dataset}: {family} against the sample count, final checkpoint")
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
        written += save_figure(figure, out_dir / safe_filename(f"{dataset}_{family}"))
    return written


def summarise_curve(label_rows: pd.DataFrame) -> pd.DataFrame:
    """Return one point per checkpoint: mean kimg, mean and std (ddof 1) of the value, and n."""
    return (
        label_rows.groupby("checkpoint")
        .agg(kimg=("kimg", "mean"), mean=("value", "mean"), std=("value", "std"), n=("value", "count"))
        .sort_values("kimg")
    )


def draw_metric_curve(dataset: str, metric: str, metric_rows: pd.DataFrame, label_colors: dict[str, str]) -> Figure:
    figure = new_figure(figsize=(6.0, 4.0))
    axes = figure.add_subplot()
    higher_is_better = bool(metric_rows["higher_is_better"].iloc[0])

    for label in ordered_labels(metric_rows):
        curve = summarise_curve(metric_rows.loc[metric_rows["method_label"] == label])
        color = label_colors[label]
        max_seeds = int(curve["n"].max())
        axes.plot(curve["kimg"], curve["mean"], marker="o", markersize=3, color=color, label=f"{label} (n={max_seeds})")
        if max_seeds > 1:
            axes.fill_between(
                curve["kimg"], curve["mean"] - curve["std"], curve["mean"] + curve["std"], color=color, alpha=0.2, linewidth=0
            )

    arrow = "higher is better" if higher_is_better else "lower is better"
    axes.set_xlabel("kimg (thousands of real samples shown to D)")
    axes.set_ylabel(f"{metric} ({arrow})")
    axes.set_title(f"{dataset}: {metric}, mean ± std over seeds")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    return figure


def find_sample_files(runs_dir: Path) -> dict[tuple[str, str], tuple[int, Path]]:
    """Find the lowest seed's samples.npz per dataset and method.

    Args:
        runs_dir: folder laid out as ``<dataset>/<method>/seed<k>/``.

    Returns:
        ``(dataset, method) -> (seed, path)``.
    """
    chosen: dict[tuple[str, str], tuple[int, Path]] = {}
    for samples_path in sorted(runs_dir.glob(f"*/*/seed*/{SAMPLES_FILENAME}")):
        seed_folder = samples_path.parent
        match = re.fullmatch(r"seed(\d+)", seed_folder.name)
        if match is None:
            logger.warning("skipping %s: folder %r is not seed<k>", samples_path, seed_folder.name)
            continue
        seed = int(match.group(1))
        key = (seed_folder.parent.parent.name, seed_folder.parent.name)
        if key not in chosen or seed < chosen[key][0]:
            chosen[key] = (seed, samples_path)
    return chosen


def plot_samples(runs_dir: Path, out_dir: Path) -> list[Path]:
    """Draw one figure per dataset and method from the lowest seed's samples.npz.

    Args:
        runs_dir: ``results/<config>/runs``.
        out_dir: folder for the figures.

    Returns:
        The written files; empty, with a warning, if no samples.npz exists.
    """
    sample_files = find_sample_files(runs_dir)
    if not sample_files:
        logger.warning("no %s under %s; skipping the sample figures", SAMPLES_FILENAME, runs_dir)
        return []

    dataset_order = ordered_datasets({dataset for dataset, _ in sample_files})
    ordered_keys = sorted(sample_files, key=lambda key: (dataset_order.index(key[0]), rank(key[1], METHOD_ORDER)))

    written = []
    for dataset, method in tqdm(ordered_keys, desc="drawing samples", unit="figure", disable=None):
        seed, samples_path = sample_files[(dataset, method)]
        with np.load(samples_path, allow_pickle=False) as archive:
            samples_by_mode = {mode: archive[mode] for mode in archive.files}
        if not samples_by_mode:
            logger.warning("%s contains no arrays; skipping it", samples_path)
            continue
        figure = draw_samples(dataset, method, seed, samples_by_mode, samples_path)
        written += save_figure(figure, out_dir / safe_filename(f"{dataset}_{method}_seed{seed}"))
    return written


def draw_samples(dataset: str, method: str, seed: int, samples_by_mode: dict[str, np.ndarray], samples_path: Path) -> Figure:
    """Draw one panel per sample mode: an image grid or a 2D scatter, by array shape."""
    figure = new_figure(figsize=(4.0 * len(samples_by_mode), 4.4))
    for panel_index, (mode, samples) in enumerate(samples_by_mode.items(), start=1):
        axes = figure.add_subplot(1, len(samples_by_mode), panel_index)
        if not np.isfinite(samples).all():
            logger.warning("%s[%r] contains NaN or infinite values; they are drawn blank or left out", samples_path, mode)
        if samples.ndim == 4 and samples.shape[1] in (1, 3):
            draw_image_grid(axes, samples)
        elif samples.ndim == 2 and samples.shape[1] == 2:
            draw_scatter(axes, samples, dataset)
        else:
            raise SamplesFileError(
                f"{samples_path}[{mode!r}] has shape {samples.shape}; expected images (N, 1 or 3, H, W) "
                "or 2D points (N, 2)"
            )
        axes.set_title(f"{mode} ({len(samples)} samples)")
    figure.suptitle(f"{dataset}: {method}, seed {seed}")
    return figure


def tile_images(images: np.ndarray, padding: int = 1) -> np.ndarray:
    """Tile up to ``MAX_GRID_IMAGES`` images of shape (N, C, H, W) in [-1, 1] into one (rows*H, cols*W, C) array in [0, 1].

    Empty tiles and the padding between tiles are white.
    """
    images = images[:MAX_GRID_IMAGES]
    count, channels, height, width = images.shape
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.ones((rows * (height + padding) - padding, columns * (width + padding) - padding, channels), dtype=np.float32)
    unit_range = np.clip((images.astype(np.float32) + 1.0) / 2.0, 0.0, 1.0)
    for index in range(count):
        top = (index // columns) * (height + padding)
        left = (index % columns) * (width + padding)
        grid[top : top + height, left : left + width] = unit_range[index].transpose(1, 2, 0)
    return grid


def draw_image_grid(axes, images: np.ndarray) -> None:
    grid = tile_images(images)
    if grid.shape[2] == 1:
        axes.imshow(grid[:, :, 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        axes.imshow(grid, interpolation="nearest")
    axes.set_axis_off()


def draw_scatter(axes, points: np.ndarray, dataset: str) -> None:
    """Scatter 2D samples; for a known mixture, mark its centres and fix the view around them."""
    axes.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, color="tab:blue", linewidths=0, label="samples")
    if dataset in MIXTURES:
        make_centers, _ = MIXTURES[dataset]
        centers = make_centers().numpy()
        axes.scatter(centers[:, 0], centers[:, 1], marker="x", s=40, color="tab:red", label="mode centres")

        half_width = SCATTER_VIEW_MARGIN * float(np.abs(centers).max())
        axes.set_xlim(-half_width, half_width)
        axes.set_ylim(-half_width, half_width)
        outside = int((np.abs(points) > half_width).any(axis=1).sum())
        if outside:
            axes.text(0.02, 0.02, f"{outside} points outside the view", transform=axes.transAxes, fontsize="small")
        axes.legend(loc="upper right", fontsize="small")
    axes.set_aspect("equal")


def color_per_label(labels: list[str]) -> dict[str, str]:
    """Give each method label a fixed colour of the tab10/tab20 palette."""
    palette = matplotlib.colormaps["tab10" if len(labels) <= 10 else "tab20"]
    return {label: to_hex(palette(index % palette.N)) for index, label in enumerate(labels)}


def new_figure(figsize: tuple[float, float]) -> Figure:
    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, stem: Path) -> list[Path]:
    """Save ``figure`` as ``stem.png`` and ``stem.pdf``, each written atomically."""
    paths = []
    for file_format in FIGURE_FORMATS:
        path = stem.with_name(f"{stem.name}.{file_format}")
        write_atomically(path, lambda target, file_format=file_format: figure.savefig(target, format=file_format, dpi=FIGURE_DPI))
        paths.append(path)
    return paths


def safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)
