"""Reporting: the tidy metrics table, paper-style tables and figures.

These modules only read what training and evaluation wrote under
``results/<config>/runs``; they compute no metric themselves.
"""

from nats.report.aggregate import MetricsFileError, aggregate_metrics, read_metrics_csv
from nats.report.plots import SamplesFileError, write_plots
from nats.report.tables import ProtocolMismatchError, ReportInputError, write_tables

__all__ = [
    "MetricsFileError",
    "ProtocolMismatchError",
    "ReportInputError",
    "SamplesFileError",
    "aggregate_metrics",
    "read_metrics_csv",
    "write_plots",
    "write_tables",
]
