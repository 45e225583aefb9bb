"""Metrics: the image adapter, the digits and mixtures protocols, metric records.

Importing ``nats.metrics.digits_classifier`` (done here) registers the digits
classifier with torch-fidelity as a feature extractor.
"""

from nats.metrics.adapter import ADAPTER_POLICY, ImageRangeError, to_fidelity_dataset, to_uint8_rgb
from nats.metrics.digits import evaluate_digits, frechet_distance
from nats.metrics.digits_classifier import FEATURE_EXTRACTOR_NAME, ClassifierError, build_classifier
from nats.metrics.mixtures import evaluate_mixture, mode_statistics
from nats.metrics.records import (
    MetricValue,
    SampleCountError,
    count_label,
    make_records,
    protocol_id,
    read_records,
    write_records,
)

__all__ = [
    "ADAPTER_POLICY",
    "FEATURE_EXTRACTOR_NAME",
    "ClassifierError",
    "ImageRangeError",
    "MetricValue",
    "SampleCountError",
    "build_classifier",
    "count_label",
    "evaluate_digits",
    "evaluate_mixture",
    "frechet_distance",
    "make_records",
    "mode_statistics",
    "protocol_id",
    "read_records",
    "to_fidelity_dataset",
    "to_uint8_rgb",
    "write_records",
]
