"""Metrics: the image adapter, the protocols and metric records.

The names below are imported on first use (PEP 562), so that light modules
such as ``nats.metrics.protocols`` load without torch. Importing
``nats.metrics.digits_classifier`` registers the digits classifier with
torch-fidelity as a feature extractor; ``nats.metrics.digits`` imports it.
"""

import importlib

_EXPORTS = {
    "ADAPTER_POLICY": "nats.metrics.adapter",
    "ImageRangeError": "nats.metrics.adapter",
    "to_fidelity_dataset": "nats.metrics.adapter",
    "to_uint8_rgb": "nats.metrics.adapter",
    "evaluate_digits": "nats.metrics.digits",
    "frechet_distance": "nats.metrics.digits",
    "FEATURE_EXTRACTOR_NAME": "nats.metrics.digits_classifier",
    "ClassifierError": "nats.metrics.digits_classifier",
    "build_classifier": "nats.metrics.digits_classifier",
    "evaluate_inception": "nats.metrics.inception",
    "evaluate_mixture": "nats.metrics.mixtures",
    "mode_statistics": "nats.metrics.mixtures",
    "MetricValue": "nats.metrics.records",
    "SampleCountError": "nats.metrics.records",
    "count_label": "nats.metrics.records",
    "make_records": "nats.metrics.records",
    "protocol_id": "nats.metrics.records",
    "read_records": "nats.metrics.records",
    "write_records": "nats.metrics.records",
    "InceptionWeightsError": "nats.metrics.weights",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nats.metrics' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
