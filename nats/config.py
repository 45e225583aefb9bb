"""Load a pipeline config and resolve the settings of one run.

A pipeline config (``config/config.yaml``) names a grid: datasets, methods,
seeds and evaluation protocols. ``resolve_run_config`` turns one cell of
that grid into the flat run config that training reads, merging in order:
the defaults of ``nats.defaults``, the config's ``methods.<method>`` block,
its ``overrides.<dataset>.all`` block, then its
``overrides.<dataset>.<method>`` block.
"""

import copy
import math
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from nats.defaults import (
    ARCHITECTURE_RESOLUTIONS,
    ARCHITECTURES,
    DATASET_DEFAULTS,
    DATASET_SOURCES,
    EVALUATION_DEFAULTS,
        METHOD_DEFAULTS,
    PERFORMANCE_DEFAULTS,
    RESOURCE_DEFAULTS,
    SCHEDULES,
)
from nats.metrics.protocols import ProtocolSettingsError, resolve_image_protocols

METHODS = tuple(METHOD_DEFAULTS)
DATASETS = tuple(name for name in DATASET_DEFAULTS if name not in ("imagefolder", "npz"))
DEVICES = ("cpu", "cuda", "auto")
TRAINING_KEYS = ("batch_size", "budget_kimg", "snapshot_kimg", "checkpoint_kimg")
TOP_LEVEL_KEYS = (
    "name", "seeds", "device", "threads_per_job", "performance", "resources",
    "datasets", "methods", "overrides", "evaluation",
)
# Datasets scored by the digits and mixtures protocols; every other dataset
# is an image dataset scored by the Inception protocols only.
DOMAIN_PROTOCOLS = {"digits": "digits", "ring8": "mixtures", "grid25": "mixtures"}
DATASET_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

# Name of the overrides block that applies to every method of a dataset;
# each method takes the keys it has.
ALL_METHODS = "all"


class ConfigError(ValueError):
    """A config value that is missing, misspelled or out of range."""


def load_config(path: str | Path) -> dict:
    """Read a pipeline config from YAML and check it with ``validate_config``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found")
    with path.open() as handle:
        config = yaml.safe_load(handle)
    if not isinstance(config, dict):
        raise ConfigError(f"config file {str(path)!r} must contain a mapping, got {type(config).__name__}")
    validate_config(config)
    return config


def _check_known_keys(block: dict, allowed, where: str) -> None:
    unknown = sorted(set(block) - set(allowed))
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in {where}; "
            f"allowed keys: {', '.join(sorted(allowed))}"
        )


def _check_name(name: str, known, what: str) -> None:
    if name not in known:
        raise ConfigError(f"unknown {what} {name!r}; expected one of {', '.join(known)}")


def validate_config(config: dict) -> None:
    """Check the names, keys and ranges of a pipeline config.

    The JSON schema in ``workflow/schemas`` checks the structure when
    Snakemake loads the config. This check repeats the parts the CLI relies
    on and adds what a schema cannot state: the hyperparameter keys of each
    method and the ranges that depend on them.

    Raises:
        ConfigError: naming the offending key or value and what is allowed.
    """
    for key in ("name", "seeds", "datasets", "methods"):
        if key not in config:
            raise ConfigError(f"config is missing the required key {key!r}")
    _check_known_keys(config, TOP_LEVEL_KEYS, "the config")
    if not config["seeds"] or not all(isinstance(seed, int) and seed >= 0 for seed in config["seeds"]):
        raise ConfigError(f"seeds must be a non-empty list of non-negative integers, got {config['seeds']!r}")

    datasets = config["datasets"]
    if not isinstance(datasets, dict) or not datasets:
        raise ConfigError(f"datasets must be a non-empty mapping of dataset names to settings, got {datasets!r}")
    for dataset, settings in datasets.items():
        dataset_source(dataset, settings)
    for method in config["methods"]:
        _check_name(method, METHODS, "method")
    _validate_performance(config.get("performance"))
    for rule in RESOURCE_DEFAULTS:
        rule_resources(config, rule)
    _check_known_keys(config.get("resources") or {}, RESOURCE_DEFAULTS, "resources")
    every_method_key = set().union(*METHOD_DEFAULTS.values())
    known_datasets = tuple(DATASETS) + tuple(name for name in datasets if name not in DATASETS)
    for dataset, by_method in (config.get("overrides") or {}).items():
        _check_name(dataset, known_datasets, "dataset in overrides")
        for method in by_method or {}:
            _check_name(method, METHODS + (ALL_METHODS,), f"method in overrides.{dataset}")
        shared_block = (by_method or {}).get(ALL_METHODS) or {}
        _check_known_keys(shared_block, every_method_key, f"overrides.{dataset}.{ALL_METHODS}")
        _validate_setting_values(shared_block, f"overrides.{dataset}.{ALL_METHODS}")

    for dataset in config["datasets"]:
        for method in config["methods"]:
            _check_architecture_fits(resolve_run_config(config, dataset, method, config["seeds"][0]))


def _check_architecture_fits(run_config: dict) -> None:
    """Reject a paper architecture on data it cannot build nets for, before any job starts."""
    architecture = run_config["method"]["architecture"]
    if architecture == "auto":
        return
    dataset = run_config["dataset"]["name"]
    method = run_config["method"]["name"]
    resolution = run_config["dataset"].get("resolution")
    if resolution is None:
        raise ConfigError(
            f"architecture {architecture!r} of {method} on {dataset} builds image nets, but {dataset} is 2D point data; "
            f"set architecture: auto for it (in overrides.{dataset}.{method} or overrides.{dataset}.all)"
        )
    supported = ARCHITECTURE_RESOLUTIONS[architecture]
    if resolution not in supported:
        sides = ", ".join(f"{side}x{side}" for side in supported)
        raise ConfigError(
            f"architecture {architecture!r} of {method} on {dataset} supports {sides} images, but "
            f"datasets.{dataset}.resolution is {resolution}; change the resolution or pick another architecture "
            f"in overrides.{dataset}.{method}"
        )


def dataset_source(name: str, settings: dict | None) -> str:
    """Return the loader a grid dataset uses: its ``source`` setting, or its name.

    Args:
        name: the dataset's name in the config's ``datasets`` block.
        settings: its settings block (may be ``None``).

    Returns:
        A key of ``nats.defaults.DATASET_DEFAULTS``.

    Raises:
        ConfigError: for an unknown name without a ``source``, or an unknown source.
    """
    if not isinstance(name, str) or not DATASET_NAME_PATTERN.match(name):
        raise ConfigError(
            f"dataset name {name!r} must start with a letter or digit and contain only letters, digits, '_' and '-'"
        )
    if settings is not None and not isinstance(settings, dict):
        raise ConfigError(f"datasets.{name} must be a mapping of settings, got {settings!r}")
    source = (settings or {}).get("source")
    if source is None:
        if name not in DATASETS:
            raise ConfigError(
                f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}, or give datasets.{name}.source "
                f"(one of {', '.join(DATASET_SOURCES)}) to name a dataset freely"
            )
        return name
    if source not in DATASET_SOURCES:
        raise ConfigError(
            f"datasets.{name}.source {source!r} is unknown; expected one of {', '.join(DATASET_SOURCES)}"
        )
    return source


def _validate_dataset_settings(source: str, settings: dict, where: str) -> None:
    _check_known_keys(settings, set(DATASET_DEFAULTS[source]) | ({"source"} if source in DATASET_SOURCES else set()), where)
    _validate_training_values(settings, where)
    if "resolution" in settings and (
        isinstance(settings["resolution"], bool) or not isinstance(settings["resolution"], int) or settings["resolution"] < 8
    ):
        raise ConfigError(f"{where}.resolution must be an integer >= 8, got {settings['resolution']!r}")
    if "data_root" in settings and not (isinstance(settings["data_root"], str) and settings["data_root"]):
        raise ConfigError(f"{where}.data_root must be the path of a folder, got {settings['data_root']!r}")
    if "download" in settings and not isinstance(settings["download"], bool):
        raise ConfigError(f"{where}.download must be true or false, got {settings['download']!r}")
    in_memory = settings.get("in_memory", "auto")
    if not (isinstance(in_memory, bool) or in_memory == "auto"):
        raise ConfigError(f"{where}.in_memory must be auto, true or false, got {settings['in_memory']!r}")
    if "path" in settings and not (isinstance(settings["path"], str) and settings["path"]):
        what = "a folder of images" if source == "imagefolder" else "an .npz file"
        raise ConfigError(f"{where}.path must be the path of {what}, got {settings['path']!r}; set it in the config")
    if settings.get("npz_key") is not None and not isinstance(settings["npz_key"], str):
        raise ConfigError(f"{where}.npz_key must be the name of an array in the .npz file or null, got {settings['npz_key']!r}")


def _validate_performance(block) -> dict:
    if block is None:
        block = {}
    if not isinstance(block, dict):
        raise ConfigError(f"performance must be a mapping of {', '.join(PERFORMANCE_DEFAULTS)}, got {block!r}")
    _check_known_keys(block, PERFORMANCE_DEFAULTS, "performance")
    for key, value in block.items():
        if not isinstance(value, bool):
            raise ConfigError(f"performance.{key} must be true or false, got {value!r}")
    return {**PERFORMANCE_DEFAULTS, **block}


RESOURCE_INTEGER_KEYS = ("mem_mb", "runtime", "gpu", "cpus_per_task")
TRAIN_SLURM_SIGNAL = "--signal=TERM@300"
RESOURCE_TEXT_KEYS = ("slurm_partition", "slurm_account", "gpu_model", "slurm_extra", "constraint", "qos")


def rule_resources(config: dict, rule: str) -> dict:
    """Return the scheduler resources of one rule: the defaults, then ``resources.<rule>``.

    Args:
        config: a pipeline config.
        rule: ``train``, ``evaluate`` or ``classifier``.

    Returns:
        The resources as Snakemake takes them (``mem_mb``, ``runtime`` in
        minutes, ``gpu``, and any SLURM keys the config sets). Training and
        evaluation request one GPU by default when ``device`` is not ``cpu``.
        Training also requests SIGTERM 5 minutes before its SLURM time limit,
        added to ``slurm_extra`` unless that sets ``--signal`` itself.

    Raises:
        ConfigError: for an unknown key or a value of the wrong type.
    """
    block = (config.get("resources") or {}).get(rule) or {}
    where = f"resources.{rule}"
    if not isinstance(block, dict):
        raise ConfigError(f"{where} must be a mapping, got {block!r}")
    _check_known_keys(block, RESOURCE_INTEGER_KEYS + RESOURCE_TEXT_KEYS, where)
    for key, value in block.items():
        if key in RESOURCE_INTEGER_KEYS:
            minimum = 0 if key == "gpu" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ConfigError(f"{where}.{key} must be an integer >= {minimum}, got {value!r}")
        elif not isinstance(value, str) or not value:
            raise ConfigError(f"{where}.{key} must be a non-empty string, got {value!r}")
    resources = {**RESOURCE_DEFAULTS[rule], **block}
    if rule == "train":
        # SLURM then sends SIGTERM 5 minutes before the time limit, and the
        # run saves a checkpoint that a resubmitted job resumes from.
        extra = block.get("slurm_extra", "")
        if "--signal" not in extra:
            resources["slurm_extra"] = f"{extra} {TRAIN_SLURM_SIGNAL}".strip()
    if "gpu" not in block and rule in ("train", "evaluate") and config.get("device", "cpu") != "cpu":
        # A job that may use a GPU requests one, so that --resources gpu=N
        # (or a cluster) runs at most as many such jobs as there are GPUs.
        resources["gpu"] = 1
    return resources


def _validate_training_values(settings: dict, where: str) -> None:
    budget = settings["budget_kimg"]
    if not POSITIVE_NUMBER.allows(budget):
        raise ConfigError(f"{where}.budget_kimg must be a positive number of kimg, got {budget!r}")
    snapshot = settings["snapshot_kimg"]
    if not POSITIVE_NUMBER.allows(snapshot):
        raise ConfigError(f"{where}.snapshot_kimg must be a positive number of kimg, got {snapshot!r}")
    checkpoint = settings.get("checkpoint_kimg")
    if checkpoint is not None and not POSITIVE_NUMBER.allows(checkpoint):
        raise ConfigError(f"{where}.checkpoint_kimg must be a positive number of kimg or null, got {checkpoint!r}")
    batch_size = settings["batch_size"]
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
        raise ConfigError(f"{where}.batch_size must be an integer >= 2, got {batch_size!r}")


def _validate_method_settings(method: str, settings: dict, where: str) -> None:
    _check_known_keys(settings, METHOD_DEFAULTS[method], where)
    if method == "cfg" and settings.get("schedule", "constant") != "constant":
        raise ConfigError(
            f"{where}.schedule must stay 'constant' for cfg, got {settings['schedule']!r}; "
            "use the annealed-cfg method for other schedules"
        )
    _validate_setting_values(settings, where)


@dataclass(frozen=True)
class Range:
    """The allowed values of one method setting.

    Attributes:
        kind: ``"integer"``, ``"number"`` (finite int or float) or ``"boolean"``.
        minimum: smallest allowed value, or ``None``.
        maximum: largest allowed value, or ``None``.
        exclusive_minimum: whether ``minimum`` itself is excluded.
        exclusive_maximum: whether ``maximum`` itself is excluded.
        nullable: whether ``null`` is allowed.
    """

    kind: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    nullable: bool = False

    def describe(self) -> str:
        if self.kind == "boolean":
            return "true or false"
        noun = "an integer" if self.kind == "integer" else "a finite number"
        if self.minimum is not None and self.maximum is not None:
            left = "(" if self.exclusive_minimum else "["
            right = ")" if self.exclusive_maximum else "]"
            text = f"{noun} in {left}{self.minimum:g}, {self.maximum:g}{right}"
        elif self.minimum is not None:
            text = f"{noun} {'>' if self.exclusive_minimum else '>='} {self.minimum:g}"
        else:
            text = noun
        return f"{text} or null" if self.nullable else text

    def allows(self, value) -> bool:
        if value is None:
            return self.nullable
        if self.kind == "boolean":
            return isinstance(value, bool)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "integer" and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        if self.minimum is not None and (value < self.minimum or (self.exclusive_minimum and value == self.minimum)):
            return False
        if self.maximum is not None and (value > self.maximum or (self.exclusive_maximum and value == self.maximum)):
            return False
        return True


POSITIVE_INTEGER = Range("integer", minimum=1)
NON_NEGATIVE_INTEGER = Range("integer", minimum=0)
POSITIVE_NUMBER = Range("number", minimum=0, exclusive_minimum=True)
BOOLEAN = Range("boolean")

# The allowed values of every method setting except ``schedule``.
SETTING_RANGES = {
    "z_dim": POSITIVE_INTEGER,
    "g_width": POSITIVE_INTEGER,
    "d_width": POSITIVE_INTEGER,
    "g_batch_norm": BOOLEAN,
    "d_batch_norm": BOOLEAN,
    "grad_normalised": BOOLEAN,
    "eta": POSITIVE_NUMBER,
    "lr": POSITIVE_NUMBER,
    "lr_d": POSITIVE_NUMBER,
    "lr_g": POSITIVE_NUMBER,
    "gp_weight": POSITIVE_NUMBER,
    "init_linear_std": POSITIVE_NUMBER,
    "divergence_limit": POSITIVE_NUMBER,
    "beta1": Range("number", minimum=0, maximum=1, exclusive_maximum=True),
    "beta2": Range("number", minimum=0, maximum=1, exclusive_maximum=True),
    "rmsprop_alpha": Range("number", minimum=0, maximum=1, exclusive_minimum=True, exclusive_maximum=True),
    "rho": Range("number", minimum=0, maximum=1, exclusive_minimum=True),
    "num_steps": POSITIVE_INTEGER,
    "d_updates": POSITIVE_INTEGER,
    "num_targets": POSITIVE_INTEGER,
    "approx_epochs": POSITIVE_INTEGER,
    "n_dis": POSITIVE_INTEGER,
    "g_batch_multiplier": POSITIVE_INTEGER,
    "g_regression_steps": POSITIVE_INTEGER,
    "num_levels": Range("integer", minimum=1, nullable=True),
    "init_fit_steps": NON_NEGATIVE_INTEGER,
    "approx_lr_cuts": NON_NEGATIVE_INTEGER,
    "divergence_min_stage": NON_NEGATIVE_INTEGER,
}


def _validate_setting_values(settings: dict, where: str) -> None:
    if "architecture" in settings and settings["architecture"] not in ARCHITECTURES:
        raise ConfigError(
            f"{where}.architecture {settings['architecture']!r} is unknown; expected one of {', '.join(ARCHITECTURES)}"
        )
    if "schedule" in settings and settings["schedule"] not in SCHEDULES:
        raise ConfigError(
            f"{where}.schedule {settings['schedule']!r} is unknown; expected one of {', '.join(SCHEDULES)}"
        )
    # The decays of baselines.host.LR_DECAYS, spelt out because baselines imports this module.
    lr_decays = ("none", "linear")
    if "lr_decay" in settings and settings["lr_decay"] not in lr_decays:
        raise ConfigError(
            f"{where}.lr_decay {settings['lr_decay']!r} is unknown; expected one of {', '.join(lr_decays)}"
        )
    for key, value in settings.items():
        allowed = SETTING_RANGES.get(key)
        if allowed is not None and not allowed.allows(value):
            raise ConfigError(f"{where}.{key} must be {allowed.describe()}, got {value!r}")


def resolve_run_config(config: dict, dataset: str, method: str, seed: int) -> dict:
    """Resolve the complete settings of one run of the grid.

    Args:
        config: a pipeline config (see ``config/README.md``).
        dataset: dataset name, one of ``DATASETS``.
        method: method name, one of ``METHODS``.
        seed: training seed.

    Returns:
        ``{"config_name", "dataset": {...}, "method": {...}, "training": {...},
        "evaluation": {...}}`` with every default filled in.

    Raises:
        ConfigError: for unknown names, unknown keys or values out of range.
    """
    grid_datasets = config.get("datasets") or {}
    if dataset not in grid_datasets and dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; the config's datasets are {', '.join(grid_datasets)}")
    _check_name(method, METHODS, "method")
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")

    dataset_block = grid_datasets.get(dataset) or {}
    source = dataset_source(dataset, dataset_block)
    dataset_settings = {**DATASET_DEFAULTS[source], **dataset_block}
    _validate_dataset_settings(source, dataset_settings, f"datasets.{dataset}")
    if source in DATASET_SOURCES:
        dataset_settings["source"] = source

    method_block = (config.get("methods") or {}).get(method) or {}
    dataset_overrides = (config.get("overrides") or {}).get(dataset) or {}
    shared_block = {
        key: value for key, value in (dataset_overrides.get(ALL_METHODS) or {}).items() if key in METHOD_DEFAULTS[method]
    }
    override_block = dataset_overrides.get(method) or {}
    _validate_method_settings(method, method_block, f"methods.{method}")
    _validate_method_settings(method, override_block, f"overrides.{dataset}.{method}")
    method_settings = {**copy.deepcopy(METHOD_DEFAULTS[method]), **method_block, **shared_block, **override_block}
    if METHOD_DEFAULTS[method].get("gp_weight") is not None and method_settings["d_batch_norm"]:
        raise ConfigError(
            f"d_batch_norm is true for {method} on {dataset}; the WGAN-GP critic must not use batch norm, "
            "because the gradient penalty is taken per sample. Set d_batch_norm: false"
        )
    if "num_levels" in method_settings and method_settings["num_levels"] is None:
        method_settings["num_levels"] = method_settings["n_dis"]

    device = config.get("device", "cpu")
    if device not in DEVICES:
        raise ConfigError(f"device {device!r} is unknown; expected one of {', '.join(DEVICES)}")

    performance = _validate_performance(config.get("performance"))

    protocol = DOMAIN_PROTOCOLS.get(dataset if source not in DATASET_SOURCES else source, "images")
    if protocol == "images":
        evaluation = {}
    else:
        evaluation = {**EVALUATION_DEFAULTS[protocol], **((config.get("evaluation") or {}).get(protocol) or {})}
        _check_known_keys(evaluation, EVALUATION_DEFAULTS[protocol], f"evaluation.{protocol}")
    try:
        image_protocols = resolve_image_protocols(
            config.get("evaluation") or {}, dataset, image_dataset=protocol == "images"
        )
    except ProtocolSettingsError as error:
        raise ConfigError(str(error)) from error
    if protocol == "images" and image_protocols is None:
        raise ConfigError(
            f"dataset {dataset!r} is scored by the image protocols only, and the config selects none; "
            "list at least one of inception, clean, legacy in evaluation.images.protocols"
        )
    if image_protocols is not None:
        evaluation["images"] = image_protocols

    return {
        "config_name": config["name"],
        "dataset": {"name": dataset, **{k: v for k, v in dataset_settings.items() if k not in TRAINING_KEYS}},
        "method": {"name": method, **method_settings},
        "training": {
            "seed": seed,
            "device": device,
            "performance": performance,
            **{k: dataset_settings[k] for k in TRAINING_KEYS},
        },
        "evaluation": {"protocol": protocol, **evaluation},
    }


def training_relevant(run_config: dict) -> dict:
    """Return the part of a run config that changes what training computes."""
    return {key: run_config[key] for key in ("dataset", "method", "training")}


def resumable_settings(run_config: dict) -> dict:
    """Return the training settings a resumed run must share with its checkpoint.

    The budget, which a larger value extends, the interval of the resume
    checkpoints and the speed settings that do not change the arithmetic
    (channels-last, TF32, compile) may differ. Settings added after a run
    was written count as their defaults, so an upgrade of the suite does not
    orphan existing runs.
    """
    settings = copy.deepcopy(training_relevant(run_config))
    for key, value in METHOD_DEFAULTS.get(settings["method"].get("name"), {}).items():
        settings["method"].setdefault(key, value)
    performance = {**PERFORMANCE_DEFAULTS, **(settings["training"].get("performance") or {})}
    settings["training"] = {
        key: value
        for key, value in settings["training"].items()
        if key not in ("budget_kimg", "checkpoint_kimg", "performance")
    }
    settings["training"]["bf16"] = performance["bf16"]
    return settings


def run_settings_conflicts(existing: dict, requested: dict) -> list[str]:
    """List the dotted keys that stop ``requested`` from continuing the run of ``existing``."""
    return differing_keys(resumable_settings(existing), resumable_settings(requested))


def validate_run_config(run_config: dict) -> None:
    """Check a resolved run config, e.g. one passed to ``nats-bench train``.

    Raises:
        ConfigError: for a missing block, an unknown name, key or a value out of range.
    """
    for block in ("dataset", "method", "training"):
        if not isinstance(run_config.get(block), dict):
            raise ConfigError(f"run config is missing the {block!r} block; produce one with 'nats-bench resolve'")
    dataset = run_config["dataset"].get("name")
    method = run_config["method"].get("name")
    source = dataset_source(dataset, {"source": run_config["dataset"].get("source")})
    _check_name(method, METHODS, "method")

    training = run_config["training"]
    _check_known_keys(training, TRAINING_KEYS + ("seed", "device", "performance"), "training")
    _validate_performance(training.get("performance"))
    dataset_keys = set(DATASET_DEFAULTS[source]) - set(TRAINING_KEYS) | {"name"} | ({"source"} if source in DATASET_SOURCES else set())
    _check_known_keys(run_config["dataset"], dataset_keys, "dataset")
    missing_training = [key for key in ("batch_size", "budget_kimg", "snapshot_kimg") if key not in training]
    if missing_training:
        raise ConfigError(f"training block is missing {', '.join(missing_training)}; produce run configs with 'nats-bench resolve'")
    _validate_training_values(training, "training")
    method_settings = {key: value for key, value in run_config["method"].items() if key != "name"}
    _validate_method_settings(method, method_settings, "method")
    missing = sorted(set(METHOD_DEFAULTS[method]) - set(method_settings))
    if missing:
        raise ConfigError(f"method block is missing {', '.join(missing)}; produce run configs with 'nats-bench resolve'")
    seed = training.get("seed")
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"training.seed must be a non-negative integer, got {seed!r}")
    if training.get("device", "cpu") not in DEVICES:
        raise ConfigError(f"training.device {training.get('device')!r} is unknown; expected one of {', '.join(DEVICES)}")


def differing_keys(left: dict, right: dict, prefix: str = "") -> list[str]:
    """Dotted paths of the keys whose values differ between two nested dicts."""
    keys = []
    for key in sorted(set(left) | set(right)):
        path = f"{prefix}{key}"
        a, b = left.get(key), right.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += differing_keys(a, b, prefix=f"{path}.")
        elif a != b:
            keys.append(path)
    return keys
