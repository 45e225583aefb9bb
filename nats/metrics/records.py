"""Metric records: one JSON line per metric value, each carrying its protocol.

A record names the run (config, dataset, method, seed), the checkpoint and
its training counters, the sample mode, the metric and its value, and the
full protocol the value was measured under. ``protocol_id`` is a short hash
of that protocol, so that tables can refuse to mix protocols in one column.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from nats.atomic_files import atomic_write_text

# Keys of a protocol that differ from run to run by design and therefore do
# not enter protocol_id: the generation seed is the training seed plus a fixed
# offset, and runs of different seeds must still share one protocol. The file
# name of a scored image set differs per set, and the path of a reference
# differs per machine. The reference's content enters the id through
# reference_pixels_sha256.
RUN_SPECIFIC_PROTOCOL_KEYS = ("generation_seed", "generated_images", "reference_path")

PROTOCOL_ID_LENGTH = 12


class SampleCountError(ValueError):
    """Too few samples for a metric to be defined or comparable across runs."""


@dataclass(frozen=True)
class MetricValue:
    """One measured value before it is tied to a run and a checkpoint.

    Attributes:
        metric: metric name, with the sample count encoded (``fd2k_digits``).
        value: the measured value.
        higher_is_better: direction of improvement.
        std: spread reported by the metric itself (over IS splits), if any.
    """

    metric: str
    value: float
    higher_is_better: bool
    std: float | None = None


def count_label(count: int) -> str:
    """Format a sample count for a metric name: 2000 -> "2k", 2500 -> "2.5k", 500 -> "500".

    Counts of 1000 or more that are multiples of 10 use the ``k`` suffix;
    any other count is written out in full.
    """
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"sample count must be a positive integer, got {count!r}")
    if count >= 1000 and count % 10 == 0:
        return f"{count / 1000:g}k"
    return str(count)


def protocol_id(protocol: dict) -> str:
    """Return a short stable hash of a protocol, ignoring its run-specific keys.

    The hash is the sha256 of the protocol serialised as JSON with sorted
    keys, truncated to ``PROTOCOL_ID_LENGTH`` hex digits.
    """
    shared = {key: value for key, value in protocol.items() if key not in RUN_SPECIFIC_PROTOCOL_KEYS}
    text = json.dumps(shared, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:PROTOCOL_ID_LENGTH]


def make_records(
    values: list[MetricValue],
    *,
    config_name: str,
    dataset: str | None,
    method: str,
    seed: int | None,
    checkpoint: str,
    kimg: float | None,
    d_steps: int | None,
    g_steps: int | None,
    sample_mode: str | None,
    protocol: dict,
) -> list[dict]:
    """Tie measured values to their run, checkpoint and protocol.

    ``None`` stands for a value that is not known, such as the training seed
    of an image set scored from disk, and is written as JSON ``null``.

    Args:
        values: the values of one protocol on one set of samples.
        config_name: name of the pipeline config.
        dataset: dataset name.
        method: method name.
        seed: training seed.
        checkpoint: checkpoint name, such as ``kimg000010``.
        kimg: thousands of real samples shown to D at the checkpoint.
        d_steps: discriminator steps at the checkpoint.
        g_steps: generator steps at the checkpoint.
        sample_mode: how the samples were drawn (``generator``, ``refined``).
        protocol: the full protocol, including ``sample_mode`` and
            ``generation_seed``.

    Returns:
        One record per value, in the order of ``values``, each with
        ``status`` ``ok`` (``diverged_records`` writes the other status).
    """
    identifier = protocol_id(protocol)
    return [
        {
            "config_name": config_name,
            "dataset": dataset,
            "method": method,
            "seed": seed,
            "checkpoint": checkpoint,
            "kimg": None if kimg is None else float(kimg),
            "d_steps": None if d_steps is None else int(d_steps),
            "g_steps": None if g_steps is None else int(g_steps),
            "sample_mode": sample_mode,
            "metric": value.metric,
            "value": float(value.value),
            "higher_is_better": bool(value.higher_is_better),
            "std": None if value.std is None else float(value.std),
            "protocol": protocol,
            "protocol_id": identifier,
            "status": "ok",
        }
        for value in values
    ]


def write_records(records: list[dict], path: Path) -> None:
    """Write records as JSON lines, atomically (a temporary file, then ``os.replace``).

    Non-finite values are written as the JavaScript literals ``NaN`` and
    ``Infinity``, which Python's ``json`` and pandas read back.
    """
    text = "".join(json.dumps(record, sort_keys=True) + "\n" for record in records)
    atomic_write_text(path, text)


def read_records(path: Path) -> list[dict]:
    """Read the JSON lines written by ``write_records``."""
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def diverged_records(last_records: list[dict], kimg: float, d_steps: int, g_steps: int, checkpoint: str) -> list[dict]:
    """Mark a diverged run: one NaN record per metric of its last scored checkpoint.

    The copies keep metric, direction and protocol, so tables can count the
    run as diverged in the same columns, and take the counters of the point
    where training stopped.

    Args:
        last_records: records of the last checkpoint scored before the divergence.
        kimg: kimg at which training diverged.
        d_steps: discriminator steps at that point.
        g_steps: generator steps at that point.
        checkpoint: name given to that point.

    Returns:
        The records, with value NaN, std None and status ``diverged``.
    """
    return [
        {
            **record,
            "checkpoint": checkpoint,
            "kimg": float(kimg),
            "d_steps": int(d_steps),
            "g_steps": int(g_steps),
            "value": float("nan"),
            "std": None,
            "status": "diverged",
        }
        for record in last_records
    ]
