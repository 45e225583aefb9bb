"""Collect the per-run metric logs into one tidy table.

Every evaluated run writes
``<runs_dir>/<dataset>/<method>/seed<k>/metrics.jsonl``, one JSON object per
line and per checkpoint x sample mode x metric. ``aggregate_metrics`` reads
all of them into a single ``metrics.csv`` with one row per line, the nested
protocol flattened into ``protocol_<key>`` columns (nested keys joined with
dots, e.g. ``protocol_extractor.sha256``). The tables and plots read that CSV
through ``read_metrics_csv``.

Protocol values are stored as text (strings as they are, everything else as
JSON), so that a hash such as ``"0123"`` survives the CSV instead of being
read back as the number 123.
"""

import json
import logging
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from tqdm import tqdm

logger = logging.getLogger(__name__)

METRICS_FILENAME = "metrics.jsonl"

# Keys of one metrics.jsonl record and the Python types each may have. An
# image set scored from disk (nats-bench evaluate --images) may leave its
# dataset, seed and sample mode unknown and has no training counters, so
# those keys may be null.
RECORD_TYPES: dict[str, tuple[type, ...]] = {
    "config_name": (str,),
    "dataset": (str, type(None)),
    "method": (str,),
    "seed": (int, type(None)),
    "checkpoint": (str,),
    "kimg": (int, float, type(None)),
    "d_steps": (int, type(None)),
    "g_steps": (int, type(None)),
    "sample_mode": (str, type(None)),
    "metric": (str,),
    "value": (int, float),
    "higher_is_better": (bool,),
    "std": (int, float, type(None)),
    "protocol": (dict,),
    "protocol_id": (str,),
}

# Columns that identify one row of the tidy table, in sort order.
ROW_KEY = ["config_name", "dataset", "method", "seed", "kimg", "checkpoint", "sample_mode", "metric"]

LEADING_COLUMNS = ROW_KEY + ["d_steps", "g_steps", "value", "std", "higher_is_better", "protocol_id", "status"]

TEXT_COLUMNS = ["config_name", "dataset", "method", "checkpoint", "sample_mode", "metric", "protocol_id", "status"]

# Status of a record: ``ok`` for a measured value, ``diverged`` for the NaN
# records of a run whose training diverged. Records written before the
# status existed are read as ``ok``.
STATUS_VALUES = ("ok", "diverged")

PROTOCOL_PREFIX = "protocol_"


class MetricsFileError(ValueError):
    """A metrics.jsonl file or the metrics table is missing or malformed."""


def aggregate_metrics(runs_dir: Path, out_csv: Path) -> pd.DataFrame:
    """Read every run's metrics.jsonl under ``runs_dir`` into one tidy table.

    The table has one row per run x checkpoint x sample mode x metric, sorted
    by ``ROW_KEY``. It is written to ``out_csv`` through a temporary file and
    ``os.replace``, so a reader never sees a half-written table. If a file
    repeats a row key, the later line wins and a warning is logged, because
    a re-evaluation appends its lines after the old ones.

    Args:
        runs_dir: folder searched recursively for ``metrics.jsonl`` files,
            normally ``results/<config>/runs``.
        out_csv: where the table is written; parent folders are created.

    Returns:
        The table as written.

    Raises:
        MetricsFileError: if no metrics file exists under ``runs_dir``, the
            files hold no records, or a line is not a valid record (the
            message names the file and line number).
    """
    runs_dir = Path(runs_dir)
    metrics_paths = sorted(runs_dir.rglob(METRICS_FILENAME))
    if not metrics_paths:
        raise MetricsFileError(
            f"no {METRICS_FILENAME} file found under {runs_dir}; "
            "evaluate the runs first or pass the runs folder of the config (results/<config>/runs)"
        )

    rows = []
    for metrics_path in tqdm(metrics_paths, desc="reading metrics", unit="file", disable=None):
        rows.extend(read_metrics_file(metrics_path))
    if not rows:
        raise MetricsFileError(
            f"the {len(metrics_paths)} {METRICS_FILENAME} files under {runs_dir} contain no records"
        )

    table = build_table(rows)
    write_atomically(out_csv, lambda path: table.to_csv(path, index=False))
    logger.info(
        "wrote %d metric rows from %d files to %s", len(table), len(metrics_paths), out_csv
    )
    return table


def read_metrics_file(metrics_path: Path) -> list[dict]:
    """Parse one metrics.jsonl file into flat rows.

    Blank lines are skipped. A record whose dataset, method or seed differs
    from the folder it sits in is kept, with a warning.

    Args:
        metrics_path: the ``metrics.jsonl`` file.

    Returns:
        One flat dict per record, protocol flattened by ``flatten_protocol``.

    Raises:
        MetricsFileError: naming the file and line of the first invalid line.
    """
    rows = []
    with open(metrics_path, encoding="utf-8") as lines:
        for line_number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            record = parse_record(line, f"{metrics_path}:{line_number}")
            warn_if_outside_run_folder(record, metrics_path, line_number)
            rows.append(flatten_record(record))
    return rows


def parse_record(line: str, location: str) -> dict:
    """Decode and type-check one JSON line; ``location`` names it in errors."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise MetricsFileError(f"{location}: invalid JSON ({error.msg} at column {error.colno})") from error
    if not isinstance(record, dict):
        raise MetricsFileError(f"{location}: expected a JSON object, got {type(record).__name__}")

    missing = [key for key in RECORD_TYPES if key not in record]
    if missing:
        raise MetricsFileError(
            f"{location}: missing keys {', '.join(missing)}; every record needs {', '.join(RECORD_TYPES)}"
        )

    for key, allowed_types in RECORD_TYPES.items():
        value = record[key]
        # bool is a subclass of int, so only higher_is_better may hold one.
        is_bool_for_number = isinstance(value, bool) and bool not in allowed_types
        if is_bool_for_number or not isinstance(value, allowed_types):
            expected = " or ".join("null" if kind is type(None) else kind.__name__ for kind in allowed_types)
            raise MetricsFileError(f"{location}: key {key!r} must be {expected}, got {value!r}")
    return record


def warn_if_outside_run_folder(record: dict, metrics_path: Path, line_number: int) -> None:
    seed_folder = metrics_path.parent
    method_folder = seed_folder.parent
    dataset_folder = method_folder.parent
    expected = {
        "dataset": dataset_folder.name,
        "method": method_folder.name,
        "seed": seed_folder.name.removeprefix("seed"),
    }
    for key, folder_value in expected.items():
        if str(record[key]) != folder_value:
            logger.warning(
                "%s:%d: %s is %r but the file sits in folder %r",
                metrics_path, line_number, key, record[key], folder_value,
            )


def flatten_record(record: dict) -> dict:
    """Turn one record into a flat row: protocol keys become ``protocol_*`` columns.

    Keys beyond the record contract are kept as columns; nested values among
    them are stored as JSON text.
    """
    row = {}
    for key, value in record.items():
        if key == "protocol":
            continue
        row[key] = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
    row["status"] = record.get("status", "ok")
    if row["status"] not in STATUS_VALUES:
        raise MetricsFileError(f"record status must be one of {', '.join(STATUS_VALUES)}, got {row['status']!r}")
    row["kimg"] = math.nan if record["kimg"] is None else float(record["kimg"])
    row["value"] = float(record["value"])
    row["std"] = math.nan if record["std"] is None else float(record["std"])
    row.update(flatten_protocol(record["protocol"]))
    return row


def flatten_protocol(protocol: dict, prefix: str = PROTOCOL_PREFIX) -> dict:
    """Flatten a nested protocol into ``protocol_<key>`` text entries.

    Nested dicts join their keys with dots (``protocol_extractor.sha256``).
    Strings stay as they are; numbers, booleans, null and lists become JSON
    text (``2000``, ``true``, ``null``, ``["a", "b"]``).

    Args:
        protocol: the record's protocol dict.
        prefix: prepended to every key.

    Returns:
        A flat dict of scalar values.
    """
    flat = {}
    for key, value in protocol.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_protocol(value, prefix=f"{name}."))
        elif isinstance(value, str):
            flat[name] = value
        else:
            flat[name] = json.dumps(value, sort_keys=True)
    return flat


def build_table(rows: list[dict]) -> pd.DataFrame:
    """Assemble flat rows into the sorted tidy table, dropping repeated row keys."""
    table = pd.DataFrame(rows)
    table["seed"] = table["seed"].astype("Int64")

    repeated = table.duplicated(subset=ROW_KEY, keep="last")
    if repeated.any():
        logger.warning(
            "%d metric rows repeat an earlier run x checkpoint x sample mode x metric; "
            "keeping the last line of each",
            int(repeated.sum()),
        )
        table = table.loc[~repeated]

    protocol_columns = sorted(column for column in table.columns if column.startswith(PROTOCOL_PREFIX) and column != "protocol_id")
    extra_columns = [column for column in table.columns if column not in LEADING_COLUMNS and column not in protocol_columns]
    table = table[LEADING_COLUMNS + extra_columns + protocol_columns]
    return table.sort_values(ROW_KEY, kind="mergesort").reset_index(drop=True)


def read_metrics_csv(metrics_csv: Path) -> pd.DataFrame:
    """Load a table written by ``aggregate_metrics`` and check its core columns.

    Args:
        metrics_csv: the ``metrics.csv`` file.

    Returns:
        The table, with ``seed`` as nullable int (``Int64``), ``kimg``,
        ``value`` and ``std`` as float, ``higher_is_better`` as bool, and
        the identifying and ``protocol_*`` columns as text. Only empty cells
        are read as missing (a null in the record), so a protocol string such
        as ``"null"`` or ``"NA"`` stays text.

    Raises:
        MetricsFileError: if the file is missing, empty or lacks a core column.
    """
    metrics_csv = Path(metrics_csv)
    if not metrics_csv.is_file():
        raise MetricsFileError(f"metrics table {metrics_csv} not found; run `nats-bench aggregate` first")

    header = pd.read_csv(metrics_csv, nrows=0).columns
    has_status = "status" in header
    text_columns = [column for column in header if column in TEXT_COLUMNS or column.startswith(PROTOCOL_PREFIX)]
    table = pd.read_csv(
        metrics_csv, dtype={column: str for column in text_columns}, keep_default_na=False, na_values=[""]
    )
    if not has_status:
        table["status"] = "ok"
    missing = [column for column in LEADING_COLUMNS if column not in table.columns]
    if missing:
        raise MetricsFileError(
            f"metrics table {metrics_csv} is missing columns {', '.join(missing)}; "
            "rebuild it with `nats-bench aggregate`"
        )
    if table.empty:
        raise MetricsFileError(f"metrics table {metrics_csv} has no rows")

    table = table.astype({"seed": "Int64", "kimg": float, "value": float, "std": float, "higher_is_better": bool})
    return table


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write`` on a temporary file next to ``path``, then move it onto ``path``.

    Args:
        path: the final file; parent folders are created.
        write: writes the whole file to the path it is given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temporary_path = Path(temporary_name)
    try:
        write(temporary_path)
        os.replace(temporary_path, path)
    finally:
        temporary_path.unlink(missing_ok=True)
