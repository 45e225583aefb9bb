"""Paper-style tables of the final checkpoint: mean +- std over seeds.

``write_tables`` renders a ``main`` table (headline metrics of every
dataset) and one table per dataset with all of its metrics, each as
Markdown, LaTeX (booktabs) and CSV. A cell is the mean and the sample
standard deviation (ddof 1) of one metric over the seeds of one method
label, taken at the final checkpoint (largest kimg) of each run, with the
95% confidence interval of the mean from the t distribution with n - 1
degrees of freedom. The per-record ``std`` column of the metrics table
(e.g. over IS splits) is not used here.

Runs that diverged (records with status ``diverged``) stay out of the mean
and are counted in the cell ("12.3 ± 0.4 (1 diverged)", or "diverged" when
every run did). A dagger marks a NATS variant whose mean differs from its
host's (and annealed CFG from CFG) by Welch's two-sided t-test at p < 0.05.
A double dagger marks a value measured with Inception weights that are not
the published file (the protocol's ``weights_published`` is false).
Published values from ``published.yaml`` appear as extra rows, only in
columns whose protocol they match.
"""

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from nats.report.aggregate import PROTOCOL_PREFIX, read_metrics_csv, write_atomically

logger = logging.getLogger(__name__)

DATASET_ORDER = ("digits", "ring8", "grid25", "mnist", "svhn", "cifar10", "stl10", "celeba", "lsun-church", "lsun-bedroom")
METHOD_ORDER = ("cfg", "annealed-cfg", "wgan-gp", "sngan", "nats-wgan-gp", "nats-sngan")
SAMPLE_MODE_ORDER = ("refined", "generator")

# Metric-name prefixes shown in the main table, in column order. A name
# matches when a count follows the prefix (fd2k_digits, fid50k_train,
# modes2.5k), so precision2k_k3 or rkl2.5k stay in the per-dataset tables.
HEADLINE_METRIC_PREFIXES = ("fid", "fd", "is", "cs", "modes", "hq")

# Each method compared with the method it builds on, in the same sample mode.
HOST_OF = {"nats-sngan": "sngan", "nats-wgan-gp": "wgan-gp", "annealed-cfg": "cfg"}
SIGNIFICANCE_LEVEL = 0.05
CONFIDENCE_LEVEL = 0.95
SIGNIFICANCE_MARK = "†"
CROSS_CHECK_MARK = "⚠"
STAND_IN_WEIGHTS_MARK = "‡"
# Shown for a dataset or sample mode that a record leaves null (an image set
# scored from disk without --dataset or --sample-mode).
UNKNOWN_LABEL = "unknown"
PUBLISHED_VALUES_FILE = Path(__file__).with_name("published.yaml")

# Protocol fields a published value may state, and the metrics-table column
# each is compared with.
PUBLISHED_PROTOCOL_COLUMNS = {
    "num_generated": "protocol_num_generated",
    "num_real": "protocol_num_real",
    "reference_split": "protocol_reference_split",
    "is_splits": "protocol_is_splits",
}
COST_COLUMNS = {"kimg": "kimg", "d_steps": "D steps", "g_steps": "G steps", "wall_s": "wall time (s)"}

RUN_KEY = ["config_name", "dataset", "method", "seed"]
COLUMN_KEY = ["dataset", "metric"]


class ReportInputError(ValueError):
    """The metrics table or the run folder cannot be reported as it is."""


class ProtocolMismatchError(ReportInputError):
    """One table column or plot would mix metric values of different protocols."""


@dataclass
class RenderedTable:
    """One table ready to be written in every format.

    Attributes:
        name: file stem, e.g. ``main`` or ``digits``.
        title: first sentence of the caption.
        cells: one row per method label x dataset x metric with ``mean``,
            ``std``, ``n``, ``higher_is_better``, ``is_best`` and more.
        columns: the (dataset, metric) pairs in column order.
        labels: the method labels in row order.
        footer: sentences stating seeds, statistics and checkpoint.
        protocol_ids: protocol id(s) of each column, keyed by (dataset, metric).
        published: extra rows of published values: ``{"label", "texts":
            {(dataset, metric): text}}``.
        costs: mean cost per method label (kimg, D and G steps, wall time),
            or ``None`` without cost columns.
    """

    name: str
    title: str
    cells: pd.DataFrame
    columns: list[tuple[str, str]]
    labels: list[str]
    footer: str
    protocol_ids: dict[tuple[str, str], str]
    published: list[dict] | None = None
    costs: pd.DataFrame | None = None


def write_tables(
    metrics_csv: Path,
    out_dir: Path,
    cost_columns: bool = False,
    published_values: Path | None = PUBLISHED_VALUES_FILE,
) -> list[Path]:
    """Write the main table and one table per dataset for the final checkpoint.

    Args:
        metrics_csv: the tidy table written by ``aggregate_metrics``.
        out_dir: folder for ``<name>.md``, ``<name>.tex`` and ``<name>.csv``.
        cost_columns: add kimg, D and G steps and wall time (mean over the
            seeds that did not diverge) to every table.
        published_values: YAML of published values (see ``published.yaml``);
            ``None`` shows none.

    Returns:
        The written files, three per table.

    Raises:
        MetricsFileError: if ``metrics_csv`` is missing or malformed.
        ReportInputError: if the table contains several configs, or one
            metric is marked both higher- and lower-is-better.
        ProtocolMismatchError: if a column would mix protocols.
    """
    table = label_unknown_values(read_metrics_csv(metrics_csv))
    check_single_config(table, metrics_csv)
    final_rows = add_method_labels(select_final_checkpoints(drop_repeated_kimg(table)))
    measured = table["status"] == "ok"
    check_one_protocol_per_column(final_rows.loc[final_rows["status"] == "ok"], all_rows=table.loc[measured])

    cells = summarise_over_seeds(final_rows)
    rendered_tables = render_tables(cells, final_rows, config_name=table["config_name"].iloc[0])
    published = load_published_values(published_values) if published_values is not None else []
    for rendered in rendered_tables:
        rendered.published = match_published_values(rendered, published, final_rows)
        if cost_columns:
            rendered.costs = summarise_costs(final_rows, rendered.labels)

    out_dir = Path(out_dir)
    written = []
    for rendered in rendered_tables:
        markdown_path = out_dir / f"{rendered.name}.md"
        latex_path = out_dir / f"{rendered.name}.tex"
        csv_path = out_dir / f"{rendered.name}.csv"
        write_atomically(markdown_path, lambda path, rendered=rendered: path.write_text(to_markdown(rendered), encoding="utf-8"))
        write_atomically(latex_path, lambda path, rendered=rendered: path.write_text(to_latex(rendered), encoding="utf-8"))
        write_atomically(csv_path, lambda path, rendered=rendered: to_csv_frame(rendered).to_csv(path, index=False))
        written.extend([markdown_path, latex_path, csv_path])
    logger.info("wrote %d tables (%d files) to %s", len(rendered_tables), len(written), out_dir)
    return written


def render_tables(cells: pd.DataFrame, final_rows: pd.DataFrame, config_name: str) -> list[RenderedTable]:
    """Lay out the main table (headline metrics of every dataset) and one table per dataset."""
    rendered_tables = []
    datasets = ordered_datasets(cells["dataset"].unique())
    main_columns = [
        (dataset, metric)
        for dataset in datasets
        for metric in headline_metrics(cells.loc[cells["dataset"] == dataset, "metric"].unique())
    ]
    if main_columns:
        rendered_tables.append(render_table("main", f"Headline metrics, config {config_name}", cells, main_columns, final_rows))
    else:
        logger.warning("no headline metric (%s) found; skipping the main table", ", ".join(HEADLINE_METRIC_PREFIXES))

    for dataset in datasets:
        dataset_metrics = cells.loc[cells["dataset"] == dataset, "metric"].unique()
        headline = headline_metrics(dataset_metrics)
        others = sorted(metric for metric in dataset_metrics if metric not in headline)
        dataset_columns = [(dataset, metric) for metric in headline + others]
        rendered_tables.append(render_table(dataset, f"All metrics on {dataset}, config {config_name}", cells, dataset_columns, final_rows))
    return rendered_tables


def check_single_config(table: pd.DataFrame, source: Path) -> None:
    """Raise ReportInputError unless every row comes from one config."""
    config_names = sorted(table["config_name"].unique())
    if len(config_names) > 1:
        raise ReportInputError(
            f"{source} mixes configs {', '.join(config_names)}; "
            "aggregate and report each config's results/<config>/runs separately"
        )


def label_unknown_values(table: pd.DataFrame) -> pd.DataFrame:
    """Show a null dataset or sample mode as ``UNKNOWN_LABEL``, so that such rows keep their cells.

    Null seeds and kimg stay missing; the grouping below keeps them
    (``dropna=False``) and treats a run without kimg as one checkpoint.
    """
    return table.fillna({"dataset": UNKNOWN_LABEL, "sample_mode": UNKNOWN_LABEL})


def drop_repeated_kimg(table: pd.DataFrame) -> pd.DataFrame:
    """Keep one checkpoint per run and kimg, the one with the most optimizer steps.

    A run whose last snapshot and final checkpoint fall on the same kimg
    would otherwise count twice in a mean over seeds.
    """
    checkpoints = table[RUN_KEY + ["kimg", "d_steps", "g_steps", "checkpoint"]].drop_duplicates()
    checkpoints = checkpoints.sort_values(RUN_KEY + ["kimg", "d_steps", "g_steps", "checkpoint"], kind="mergesort")
    kept = checkpoints.drop_duplicates(RUN_KEY + ["kimg"], keep="last")
    if len(kept) < len(checkpoints):
        logger.warning(
            "%d checkpoints share their kimg with a later checkpoint of the same run; using the later one",
            len(checkpoints) - len(kept),
        )
    return table.merge(kept[RUN_KEY + ["checkpoint"]], on=RUN_KEY + ["checkpoint"], how="inner")


def select_final_checkpoints(table: pd.DataFrame) -> pd.DataFrame:
    """Keep the rows of each run's largest kimg; a run whose every kimg is null keeps all its rows."""
    final_kimg = table.groupby(RUN_KEY, dropna=False)["kimg"].transform("max")
    is_final = (table["kimg"] == final_kimg) | (final_kimg.isna() & table["kimg"].isna())
    return table.loc[is_final].reset_index(drop=True)


def add_method_labels(table: pd.DataFrame) -> pd.DataFrame:
    """Add a ``method_label`` column: the method, plus the sample mode where a method has several.

    Whether a method has several sample modes is decided over the whole
    table, so a method keeps one label style across datasets.
    """
    modes_per_method = table.groupby("method")["sample_mode"].nunique()
    has_several_modes = table["method"].map(modes_per_method) > 1
    labelled = table.copy()
    labelled["method_label"] = labelled["method"].where(
        ~has_several_modes, labelled["method"] + " (" + labelled["sample_mode"] + ")"
    )
    return labelled


def ordered_labels(table: pd.DataFrame) -> list[str]:
    """Return the method labels of ``table`` in the canonical method and sample-mode order."""
    pairs = table[["method", "sample_mode", "method_label"]].drop_duplicates()
    keys = [
        (rank(method, METHOD_ORDER), rank(mode, SAMPLE_MODE_ORDER), label)
        for method, mode, label in pairs.itertuples(index=False)
    ]
    labels = []
    for *_, label in sorted(keys):
        if label not in labels:
            labels.append(label)
    return labels


def ordered_datasets(datasets) -> list[str]:
    """Return ``datasets`` with the bundled ones first, the rest alphabetically."""
    return sorted(datasets, key=lambda dataset: rank(dataset, DATASET_ORDER))


def rank(name: str, order: tuple[str, ...]) -> tuple[int, str]:
    return (order.index(name) if name in order else len(order), name)


def headline_metrics(metrics) -> list[str]:
    """Return the metric names that open with a headline prefix and a count, in prefix order."""
    selected = []
    for prefix in HEADLINE_METRIC_PREFIXES:
        pattern = re.compile(rf"{prefix}\d")
        selected.extend(sorted(metric for metric in metrics if pattern.match(metric)))
    return selected


def is_sample_mode_column(column: str) -> bool:
    """Tell whether a flattened protocol column records the sample mode."""
    return column.removeprefix(PROTOCOL_PREFIX).split(".")[-1] == "sample_mode"


def find_run_specific_columns(table: pd.DataFrame) -> list[str]:
    """Return the protocol columns that vary between rows of one protocol id.

    The evaluator leaves run-specific fields (such as a generation seed
    derived from the training seed) out of ``protocol_id``. A field that
    varies while the id stays the same is therefore not part of the
    protocol, and differences in it never make two protocols.

    NOTE: such a field is only detected where one protocol id has rows from
    two runs. If every method ran a single, different seed, the generation
    seeds differ between ids and the column is reported as mixed.
    """
    protocol_columns = [column for column in table.columns if column.startswith(PROTOCOL_PREFIX) and column != "protocol_id"]
    varying = table.groupby("protocol_id")[protocol_columns].nunique(dropna=False).max()
    return [column for column in protocol_columns if varying[column] > 1]


def check_one_protocol_per_column(table: pd.DataFrame, all_rows: pd.DataFrame | None = None) -> None:
    """Raise ProtocolMismatchError if one dataset x metric contains several protocols.

    Rows of one column may carry different protocol ids only when their
    stored protocol fields differ in nothing but the sample mode (the method
    label already shows it) and run-specific fields (see
    ``find_run_specific_columns``).

    Args:
        table: metric rows with ``dataset``, ``metric``, ``protocol_id`` and
            the flattened ``protocol_*`` columns.
        all_rows: rows from which run-specific fields are detected, normally
            the whole metrics table; defaults to ``table``.

    Raises:
        ProtocolMismatchError: naming the dataset, the metric, the protocol
            ids and the protocol fields that differ.
    """
    run_specific_columns = set(find_run_specific_columns(table if all_rows is None else all_rows))
    comparable_columns = [
        column
        for column in table.columns
        if column.startswith(PROTOCOL_PREFIX)
        and column != "protocol_id"
        and not is_sample_mode_column(column)
        and column not in run_specific_columns
    ]
    for (dataset, metric), column_rows in table.groupby(COLUMN_KEY):
        protocol_ids = sorted(column_rows["protocol_id"].astype(str).unique())
        if len(protocol_ids) < 2:
            continue

        differing_fields = [column for column in comparable_columns if column_rows[column].nunique(dropna=False) > 1]
        if comparable_columns and not differing_fields:
            continue

        where = f" (they differ in {', '.join(differing_fields)})" if differing_fields else ""
        raise ProtocolMismatchError(
            f"metric {metric!r} on dataset {dataset!r} has rows from protocols {', '.join(protocol_ids)}{where}; "
            "a table column or plot must hold one protocol, so re-evaluate the runs with one protocol "
            "or remove the stale metrics.jsonl lines"
        )


def summarise_over_seeds(final_rows: pd.DataFrame) -> pd.DataFrame:
    """Reduce the final-checkpoint rows to one cell per method label x dataset x metric.

    Args:
        final_rows: labelled rows of the final checkpoints.

    Returns:
        Cells with ``mean``, ``std`` (ddof 1, NaN for one seed), ``n``
        (finite values of runs that did not diverge), ``n_diverged``,
        ``ci95_low`` and ``ci95_high``, ``welch_host``, ``welch_p`` and
        ``welch_significant``, ``cross_check_failed``, ``stand_in_weights``,
        ``higher_is_better``, ``is_best``, ``protocol_id`` and the range of
        final kimg.

    Raises:
        ReportInputError: if one metric is marked both higher- and lower-is-better.
    """
    directions = final_rows.groupby(COLUMN_KEY)["higher_is_better"].nunique()
    conflicting = directions[directions > 1]
    if not conflicting.empty:
        dataset, metric = conflicting.index[0]
        raise ReportInputError(
            f"metric {metric!r} on dataset {dataset!r} is marked both higher- and lower-is-better; "
            "fix the evaluator that wrote it and re-aggregate"
        )

    measured = final_rows["status"] == "ok"
    rows = final_rows.assign(
        measured_value=final_rows["value"].where(measured),
        is_diverged=~measured,
        measured_protocol_id=final_rows["protocol_id"].astype(str).where(measured),
        measured_kimg=final_rows["kimg"].where(measured),
    )
    if "fid_cross_check" in rows.columns:
        rows["cross_check_failed"] = rows["fid_cross_check"].astype(str) == "disagree"
    else:
        rows["cross_check_failed"] = False
    weights_published = PROTOCOL_PREFIX + "weights_published"
    if weights_published in rows.columns:
        rows["stand_in_weights"] = measured & (rows[weights_published].astype(str) == "false")
    else:
        rows["stand_in_weights"] = False
    cells = (
        rows.groupby(COLUMN_KEY + ["method_label", "method", "sample_mode"])
        .agg(
            mean=("measured_value", "mean"),
            std=("measured_value", "std"),
            n=("measured_value", "count"),
            n_diverged=("is_diverged", "sum"),
            higher_is_better=("higher_is_better", "first"),
            protocol_id=("measured_protocol_id", lambda ids: ";".join(sorted(ids.dropna().unique()))),
            final_kimg_min=("measured_kimg", "min"),
            final_kimg_max=("measured_kimg", "max"),
            cross_check_failed=("cross_check_failed", "any"),
            stand_in_weights=("stand_in_weights", "any"),
        )
        .reset_index()
    )
    cells["n_diverged"] = cells["n_diverged"].astype(int)
    cells["ci95_low"], cells["ci95_high"] = confidence_interval(cells["mean"], cells["std"], cells["n"])
    add_welch_tests(cells, rows)

    cells["is_best"] = False
    for _, column_cells in cells.groupby(COLUMN_KEY):
        means = column_cells["mean"].dropna()
        # A column where every method has the same mean has no best one.
        if means.empty or (len(column_cells) > 1 and means.nunique() == 1 and len(means) == len(column_cells)):
            continue
        higher_is_better = bool(column_cells["higher_is_better"].iloc[0])
        best_mean = means.max() if higher_is_better else means.min()
        cells.loc[column_cells.index[column_cells["mean"] == best_mean], "is_best"] = True
    return cells


def confidence_interval(mean: pd.Series, std: pd.Series, n: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return the bounds of the 95% t interval of the mean: mean ± t(0.975, n - 1) std / sqrt(n).

    Cells with fewer than two values get NaN bounds.
    """
    counts = n.astype(float)
    degrees = (counts - 1).where(counts >= 2)
    quantile = pd.Series(stats.t.ppf(0.5 + CONFIDENCE_LEVEL / 2, degrees), index=mean.index)
    half_width = quantile * std / np.sqrt(counts)
    return mean - half_width, mean + half_width


def add_welch_tests(cells: pd.DataFrame, rows: pd.DataFrame) -> None:
    """Add Welch's two-sided t-test of each method against its host (``HOST_OF``), in place.

    The test compares the final values over seeds of the two methods in the
    same dataset, metric and sample mode; runs that diverged are left out.
    Cells without a host, or with fewer than two values on either side,
    get NaN ``welch_p`` and no mark.
    """
    cells["welch_host"] = cells["method"].map(HOST_OF)
    cells["welch_p"] = np.nan
    values = rows.loc[rows["status"] == "ok"].groupby(COLUMN_KEY + ["method", "sample_mode"])["value"].apply(list)
    for index, cell in cells.iterrows():
        host = cell["welch_host"]
        if not isinstance(host, str):
            continue
        key = (cell["dataset"], cell["metric"])
        variant_values = values.get(key + (cell["method"], cell["sample_mode"]), [])
        host_values = values.get(key + (host, cell["sample_mode"]), [])
        if len(variant_values) < 2 or len(host_values) < 2:
            continue
        cells.loc[index, "welch_p"] = stats.ttest_ind(variant_values, host_values, equal_var=False).pvalue
    cells["welch_significant"] = cells["welch_p"] < SIGNIFICANCE_LEVEL


def load_published_values(path: Path) -> list[dict]:
    """Read published values: a YAML list of entries with dataset, method, metric, value, protocol and source.

    Raises:
        ReportInputError: if the file is missing or an entry lacks a field.
    """
    path = Path(path)
    if not path.is_file():
        raise ReportInputError(f"published values file {str(path)!r} not found")
    entries = yaml.safe_load(path.read_text()) or []
    required = ("dataset", "method", "metric", "value", "protocol", "source")
    for number, entry in enumerate(entries, start=1):
        missing = [field for field in required if field not in (entry or {})]
        if missing:
            raise ReportInputError(f"{path}: entry {number} is missing {', '.join(missing)}; every entry needs {', '.join(required)}")
    return entries


def published_protocol_matches(entry_protocol: dict, column_rows: pd.DataFrame) -> bool:
    """Tell whether a published value was measured under the protocol of one table column.

    Every field the entry states must equal the column's value; a field the
    column does not record counts as a mismatch.
    """
    for field, value in entry_protocol.items():
        if field == "feature_extractor":
            column = "protocol_weights_published"
            expected = "true" if value == "inception-2015-12-05" else None
        elif field in PUBLISHED_PROTOCOL_COLUMNS:
            column = PUBLISHED_PROTOCOL_COLUMNS[field]
            expected = value if isinstance(value, str) else str(value)
        else:
            return False
        if expected is None or column not in column_rows.columns:
            return False
        if set(column_rows[column].astype(str)) != {expected}:
            return False
    return True


def match_published_values(rendered: "RenderedTable", published: list[dict], final_rows: pd.DataFrame) -> list[dict]:
    """Place published values in the columns whose protocol they match, one row per method and source.

    An entry whose dataset and metric name a column but whose protocol
    differs is left out with a warning, because a column contains one protocol.
    """
    rows: dict[str, dict] = {}
    for entry in published:
        column = (entry["dataset"], entry["metric"])
        if column not in rendered.columns:
            continue
        column_rows = final_rows.loc[
            (final_rows["dataset"] == column[0]) & (final_rows["metric"] == column[1]) & (final_rows["status"] == "ok")
        ]
        if not published_protocol_matches(entry["protocol"], column_rows):
            logger.warning(
                "published %s %s of %s (%s) was measured under another protocol than the table column; left out",
                entry["method"], entry["metric"], entry["dataset"], entry["source"],
            )
            continue
        label = f"{entry['method']} (published: {entry['source']})"
        text = f"{entry['value']:g}" + (f" ± {entry['std']:g}" if entry.get("std") is not None else "")
        rows.setdefault(label, {"label": label, "texts": {}})["texts"][column] = text
    return list(rows.values())


def summarise_costs(final_rows: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Return the mean final kimg, D and G steps and wall time per method label, over runs that did not diverge."""
    run_rows = final_rows.loc[final_rows["status"] == "ok"].drop_duplicates(RUN_KEY + ["sample_mode"])
    available = [column for column in COST_COLUMNS if column in run_rows.columns]
    costs = run_rows.groupby("method_label")[available].mean()
    return costs.reindex(labels)


def render_table(name: str, title: str, cells: pd.DataFrame, columns: list[tuple[str, str]], final_rows: pd.DataFrame) -> RenderedTable:
    """Select the cells of ``columns`` and write the footer that states how they were computed."""
    in_table = pd.Series(False, index=cells.index)
    for dataset, metric in columns:
        in_table |= (cells["dataset"] == dataset) & (cells["metric"] == metric)
    table_cells = cells.loc[in_table].reset_index(drop=True)

    protocol_ids = {}
    for dataset, metric in columns:
        column_ids = set()
        for cell_ids in table_cells.loc[(table_cells["dataset"] == dataset) & (table_cells["metric"] == metric), "protocol_id"]:
            # A cell whose runs all diverged measured nothing and has no id.
            column_ids.update(part for part in str(cell_ids).split(";") if part and part != "nan")
        protocol_ids[(dataset, metric)] = ";".join(sorted(column_ids))
    return RenderedTable(
        name=name,
        title=title,
        cells=table_cells,
        columns=columns,
        labels=ordered_labels(table_cells),
        footer=describe_cells(table_cells, final_rows),
        protocol_ids=protocol_ids,
    )


def describe_cells(table_cells: pd.DataFrame, final_rows: pd.DataFrame) -> str:
    """Write the footer: seeds per cell, the statistics and the checkpoint."""
    common_n = common_seed_count(table_cells)
    kimg_min = table_cells["final_kimg_min"].min()
    kimg_max = table_cells["final_kimg_max"].max()
    if pd.isna(kimg_min):
        checkpoint = "for image sets scored from disk, which have no kimg"
    elif kimg_min == kimg_max:
        checkpoint = f"at the final checkpoint of each run (kimg {kimg_min:g})"
    else:
        checkpoint = f"at the final checkpoint of each run (kimg {kimg_min:g} to {kimg_max:g}, runs differ)"

    table_seeds = final_rows.loc[final_rows["dataset"].isin(table_cells["dataset"]), "seed"]
    seeds = [str(seed) for seed in sorted(table_seeds.dropna().unique())]
    if table_seeds.isna().any():
        seeds.append(UNKNOWN_LABEL)
    stand_in_note = (
        f" {STAND_IN_WEIGHTS_MARK} marks a value measured with Inception weights that are not the published file "
        "(such as random stand-ins), which is not comparable with published numbers."
        if table_cells["stand_in_weights"].any()
        else ""
    )
    return (
        f"Each cell is the mean ± sample standard deviation (ddof 1) over n = {common_n} seed{'' if common_n == 1 else 's'} "
        f"(seeds {', '.join(seeds)}) unless the cell shows its own n, "
        f"{checkpoint}. "
        "Brackets give the 95% confidence interval of the mean (t distribution, n - 1 degrees of freedom). "
        "Bold marks the best mean per column (none where every mean is equal); "
        "↑ means higher is better, ↓ lower is better. "
        "A dash marks a method without a finite value for that metric. "
        f"{SIGNIFICANCE_MARK} marks a mean that differs from its host's in the same sample mode "
        "(nats-sngan from sngan, nats-wgan-gp from wgan-gp, annealed-cfg from cfg) "
        f"by Welch's two-sided t-test over seeds at p < {SIGNIFICANCE_LEVEL}. "
        "Runs that diverged are left out of the mean and counted in the cell. "
        f"{CROSS_CHECK_MARK} marks an FID whose torch-fidelity and clean-fid legacy_tensorflow values disagree "
        "beyond the configured tolerance."
        f"{stand_in_note}"
    )


def cell_text(cell: pd.Series | None, decimals: int, common_n: int, bold: tuple[str, str], plus_minus: str, dash: str) -> str:
    """Format one cell as ``mean ± std [low, high]``.

    ``bold`` wraps the best cell, ``(n=k)`` marks an uncommon n, a dagger a
    significant difference from the host, ``CROSS_CHECK_MARK`` a failed FID
    cross-check, ``STAND_IN_WEIGHTS_MARK`` weights that are not the published
    file, ``(k diverged)`` the runs left out; a cell whose every run diverged
    reads ``diverged``.
    """
    n_diverged = int(cell["n_diverged"]) if cell is not None and "n_diverged" in cell else 0
    if cell is None or (cell["n"] == 0 and n_diverged == 0):
        return dash
    if cell["n"] == 0:
        return "diverged"
    text = f"{cell['mean']:.{decimals}f}"
    if cell["n"] > 1:
        text += f"{plus_minus}{cell['std']:.{decimals}f}"
        if "ci95_low" in cell and pd.notna(cell["ci95_low"]):
            text += f" [{cell['ci95_low']:.{decimals}f}, {cell['ci95_high']:.{decimals}f}]"
    if cell["is_best"]:
        text = f"{bold[0]}{text}{bold[1]}"
    if cell.get("welch_significant", False):
        text += SIGNIFICANCE_MARK
    if cell.get("cross_check_failed", False):
        text += f" {CROSS_CHECK_MARK}"
    if cell.get("stand_in_weights", False):
        text += f" {STAND_IN_WEIGHTS_MARK}"
    if cell["n"] != common_n:
        text += f" (n={int(cell['n'])})"
    if n_diverged:
        text += f" ({n_diverged} diverged)"
    return text


def column_decimals(column_cells: pd.DataFrame) -> int:
    """Pick decimals from the largest absolute mean of a column: 1 from 100, 2 from 1, else 3."""
    magnitudes = column_cells["mean"].abs().dropna()
    largest = magnitudes.max() if not magnitudes.empty else 0.0
    if largest >= 100:
        return 1
    if largest >= 1:
        return 2
    return 3


def common_seed_count(table_cells: pd.DataFrame) -> int:
    seed_counts = table_cells.loc[table_cells["n"] > 0, "n"]
    return int(seed_counts.mode().max()) if not seed_counts.empty else 0


def formatted_grid(rendered: RenderedTable, bold: tuple[str, str], plus_minus: str, dash: str) -> list[list[str]]:
    """Return the cell texts, one list per method label in row order."""
    common_n = common_seed_count(rendered.cells)
    cells_by_key = {
        (row["method_label"], row["dataset"], row["metric"]): row for _, row in rendered.cells.iterrows()
    }
    decimals = {
        (dataset, metric): column_decimals(rendered.cells.loc[(rendered.cells["dataset"] == dataset) & (rendered.cells["metric"] == metric)])
        for dataset, metric in rendered.columns
    }
    grid = [
        [
            cell_text(cells_by_key.get((label, dataset, metric)), decimals[(dataset, metric)], common_n, bold, plus_minus, dash)
            for dataset, metric in rendered.columns
        ]
        for label in rendered.labels
    ]
    if rendered.costs is not None:
        for row, label in zip(grid, rendered.labels):
            row.extend(cost_text(rendered.costs.loc[label, column], dash) if column in rendered.costs.columns else dash for column in COST_COLUMNS)
    for published in rendered.published or []:
        row = [published["texts"].get(column, dash) for column in rendered.columns]
        if rendered.costs is not None:
            row.extend(dash for _ in COST_COLUMNS)
        grid.append(row)
    return grid


def cost_text(value: float, dash: str) -> str:
    if pd.isna(value):
        return dash
    return f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"


def row_labels(rendered: RenderedTable) -> list[str]:
    """Return the labels of every table row: methods, then published values."""
    return rendered.labels + [published["label"] for published in rendered.published or []]


def cost_headers(rendered: RenderedTable) -> list[str]:
    return list(COST_COLUMNS.values()) if rendered.costs is not None else []


def column_direction(rendered: RenderedTable, dataset: str, metric: str) -> bool:
    in_column = (rendered.cells["dataset"] == dataset) & (rendered.cells["metric"] == metric)
    return bool(rendered.cells.loc[in_column, "higher_is_better"].iloc[0])


def to_markdown(rendered: RenderedTable) -> str:
    """Render a table as GitHub Markdown with a caption line above and the footer below."""
    several_datasets = len({dataset for dataset, _ in rendered.columns}) > 1
    headers = ["method"]
    for dataset, metric in rendered.columns:
        arrow = "↑" if column_direction(rendered, dataset, metric) else "↓"
        headers.append(f"{dataset} {metric} {arrow}" if several_datasets else f"{metric} {arrow}")

    headers += cost_headers(rendered)
    grid = formatted_grid(rendered, bold=("**", "**"), plus_minus=" ± ", dash="–")
    body = pd.DataFrame([[label, *texts] for label, texts in zip(row_labels(rendered), grid)], columns=headers)
    return (
        f"**{rendered.title}.**\n\n"
        f"{body.to_markdown(index=False, disable_numparse=True)}\n\n"
        f"{rendered.footer}\n\n"
        f"{describe_protocols(rendered)}\n"
    )


def describe_protocols(rendered: RenderedTable) -> str:
    """List each column's protocol id(s) in one sentence."""
    listing = "; ".join(f"{dataset} {metric}: {ids.replace(';', ', ')}" for (dataset, metric), ids in rendered.protocol_ids.items())
    if any(";" in ids for ids in rendered.protocol_ids.values()):
        return f"Protocol ids per column (ids of one column differ only in the sample mode): {listing}."
    return f"Protocol ids per column: {listing}."


LATEX_SPECIAL_CHARACTERS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def escape_latex(text: str) -> str:
    return "".join(LATEX_SPECIAL_CHARACTERS.get(character, character) for character in text)


def to_latex(rendered: RenderedTable) -> str:
    """Render a table as a LaTeX ``table`` with booktabs rules (needs ``\\usepackage{booktabs}``)."""
    grid = formatted_grid(rendered, bold=(r"\textbf{", "}"), plus_minus=r" $\pm$ ", dash="--")
    datasets_in_order = []
    for dataset, _ in rendered.columns:
        if dataset not in datasets_in_order:
            datasets_in_order.append(dataset)

    lines = [
        "% Written by nats.report.tables; needs \\usepackage{booktabs}.",
        f"% {describe_protocols(rendered)}",
        r"\begin{table}[t]",
        r"  \centering",
        f"  \\caption{{{escape_latex(rendered.title)}. {latex_footer(rendered.footer)}}}",
        f"  \\label{{tab:{rendered.name}}}",
        f"  \\begin{{tabular}}{{l{'c' * (len(rendered.columns) + len(cost_headers(rendered)))}}}",
        r"    \toprule",
    ]

    if len(datasets_in_order) > 1:
        group_cells = []
        rules = []
        first_column = 2
        for dataset in datasets_in_order:
            width = sum(1 for column_dataset, _ in rendered.columns if column_dataset == dataset)
            group_cells.append(f"\\multicolumn{{{width}}}{{c}}{{{escape_latex(dataset)}}}")
            rules.append(f"\\cmidrule(lr){{{first_column}-{first_column + width - 1}}}")
            first_column += width
        lines.append("     & " + " & ".join(group_cells) + r" \\")
        lines.append("    " + " ".join(rules))

    headers = ["Method"]
    for dataset, metric in rendered.columns:
        arrow = r"$\uparrow$" if column_direction(rendered, dataset, metric) else r"$\downarrow$"
        headers.append(f"{escape_latex(metric)} {arrow}")
    headers += [escape_latex(header) for header in cost_headers(rendered)]
    lines.append("    " + " & ".join(headers) + r" \\")
    lines.append(r"    \midrule")
    for label, texts in zip(row_labels(rendered), grid):
        lines.append("    " + " & ".join([escape_latex(label), *texts]) + r" \\")
    lines += [r"    \bottomrule", r"  \end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def latex_footer(footer: str) -> str:
    escaped = escape_latex(footer)
    return escaped.replace("±", r"$\pm$").replace("↑", r"$\uparrow$").replace("↓", r"$\downarrow$")


def to_csv_frame(rendered: RenderedTable) -> pd.DataFrame:
    """Return the cells in row and column order, with mean, std and n as separate columns."""
    label_rank = {label: index for index, label in enumerate(rendered.labels)}
    column_rank = {column: index for index, column in enumerate(rendered.columns)}
    cells = rendered.cells.copy()
    cells["row_order"] = cells["method_label"].map(label_rank)
    cells["column_order"] = [column_rank[(dataset, metric)] for dataset, metric in zip(cells["dataset"], cells["metric"])]
    cells = cells.sort_values(["row_order", "column_order"], kind="mergesort")
    ordered_columns = [
        "method_label", "method", "sample_mode", "dataset", "metric", "higher_is_better",
        "mean", "std", "n", "ci95_low", "ci95_high", "n_diverged", "welch_host", "welch_p", "welch_significant",
        "cross_check_failed", "stand_in_weights", "is_best", "final_kimg_min", "final_kimg_max", "protocol_id",
    ]
    return cells[ordered_columns].reset_index(drop=True)
