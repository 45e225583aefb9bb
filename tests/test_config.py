"""The config schema (workflow/schemas) and nats.config.validate_config.

The pipeline checks a config in two layers: the JSON schema for structure and
ranges, then ``validate_config`` for the hyperparameter keys of each method.
"""

import copy
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate as snakemake_validate

from nats.config import (
    ALL_METHODS,
    DATASETS,
    ConfigError,
    resolve_run_config,
    rule_resources,
    run_settings_conflicts,
    validate_config,
)
from nats.defaults import (
    ARCHITECTURE_RESOLUTIONS,
    ARCHITECTURES,
    DATASET_DEFAULTS,
    DATASET_SOURCES,
    EVALUATION_DEFAULTS,
    METHOD_DEFAULTS,
    PERFORMANCE_DEFAULTS,
    RESOURCE_DEFAULTS,
)

REPO_DIR = Path(__file__).resolve().parents[1]
SCHEMA_FILE = REPO_DIR / "workflow" / "schemas" / "config.schema.yaml"
CONFIG_FILES = sorted((REPO_DIR / "config").glob("*.yaml")) + [REPO_DIR / "tests" / "data" / "tiny.yaml"]


@pytest.fixture(scope="module")
def schema() -> dict:
    return yaml.safe_load(SCHEMA_FILE.read_text())


@pytest.fixture(scope="module")
def validator(schema) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture
def config() -> dict:
    return yaml.safe_load((REPO_DIR / "config" / "config.yaml").read_text())


def schema_messages(validator, config: dict) -> list[str]:
    return [error.message for error in validator.iter_errors(config)]


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda path: path.name)
def test_shipped_configs_pass_both_checks(validator, path):
    config = yaml.safe_load(path.read_text())

    assert schema_messages(validator, config) == []
    validate_config(config)


def test_schema_lists_default_dataset_keys(schema):
    datasets = schema["properties"]["datasets"]["properties"]
    digits_keys = set(datasets["digits"]["properties"])
    mixture_keys = set(schema["$defs"]["mixture"]["properties"])

    image_keys = set(schema["$defs"]["image_dataset"]["properties"])

    assert set(datasets) == set(DATASETS)
    assert digits_keys == set(DATASET_DEFAULTS["digits"])
    assert image_keys == {"source"}.union(*(DATASET_DEFAULTS[source] for source in DATASET_SOURCES))
    assert set(schema["$defs"]["image_dataset"]["properties"]["source"]["enum"]) == set(DATASET_SOURCES)
    assert mixture_keys == set(DATASET_DEFAULTS["ring8"])
    assert mixture_keys == set(DATASET_DEFAULTS["grid25"])


def test_schema_lists_default_evaluation_keys(schema):
    evaluation = schema["properties"]["evaluation"]["properties"]

    assert set(evaluation) == set(EVALUATION_DEFAULTS)
    for protocol, defaults in EVALUATION_DEFAULTS.items():
        assert set(evaluation[protocol]["properties"]) == set(defaults), protocol


def test_schema_lists_every_method(schema):
    assert set(schema["properties"]["methods"]["properties"]) == set(METHOD_DEFAULTS)
    assert set(schema["$defs"]["overrides_by_method"]["properties"]) == {*METHOD_DEFAULTS, ALL_METHODS}


def test_unknown_method_rejected(validator, config):
    config["methods"]["nats-dcgan"] = {}

    assert any("nats-dcgan" in message for message in schema_messages(validator, config))
    with pytest.raises(ConfigError, match="nats-dcgan"):
        validate_config(config)


def test_unknown_dataset_rejected(validator, config):
    config["datasets"]["cifar100"] = {"batch_size": 64}

    assert any("source" in message for message in schema_messages(validator, config))
    with pytest.raises(ConfigError, match="unknown dataset 'cifar100'"):
        validate_config(config)


def test_unknown_method_in_overrides_rejected(validator, config):
    config["overrides"] = {"ring8": {"nats-gan": {"eta": 0.25}}}

    assert any("nats-gan" in message for message in schema_messages(validator, config))
    with pytest.raises(ConfigError, match="nats-gan"):
        validate_config(config)


@pytest.mark.parametrize("budget", [-5, 0])
def test_non_positive_budget_rejected(validator, config, budget):
    config["datasets"]["ring8"]["budget_kimg"] = budget

    assert any(str(budget) in message for message in schema_messages(validator, config))
    with pytest.raises(ConfigError, match=f"budget_kimg.*{budget}"):
        validate_config(config)


def test_misspelled_top_level_key_rejected_by_schema(validator, config):
    config["threads_per_jobs"] = 2

    messages = schema_messages(validator, config)

    assert any("threads_per_jobs" in message for message in messages)


def test_misspelled_top_level_key_rejected_by_validate_config(config):
    config["threads_per_jobs"] = 2

    with pytest.raises(ConfigError, match="threads_per_jobs"):
        validate_config(config)


def test_misspelled_dataset_key_rejected(validator, config):
    config["datasets"]["digits"]["budget_kmig"] = 10

    assert any("budget_kmig" in message for message in schema_messages(validator, config))
    with pytest.raises(ConfigError, match="budget_kmig"):
        validate_config(config)


def test_misspelled_method_key_rejected(config):
    # The schema leaves method keys to validate_config, which has the defaults.
    config["methods"]["nats-sngan"] = {"etta": 0.25}

    with pytest.raises(ConfigError, match="etta"):
        validate_config(config)


def test_misspelled_override_key_rejected(config):
    config["overrides"] = {"digits": {"wgan-gp": {"gp_wieght": 5.0}}}

    with pytest.raises(ConfigError, match="gp_wieght"):
        validate_config(config)


def test_misspelled_key_in_all_block_rejected(config):
    config["overrides"] = {"ring8": {"all": {"z_dimm": 8}}}

    with pytest.raises(ConfigError, match="z_dimm"):
        validate_config(config)


def test_rho_in_all_block_rejected_by_schema(validator, config):
    config["overrides"] = {"ring8": {"all": {"rho": 1.5}}}

    assert any("1.5" in message for message in schema_messages(validator, config))


def test_rho_in_all_block_rejected_by_validate_config(config):
    config["overrides"] = {"ring8": {"all": {"rho": 1.5}}}

    with pytest.raises(ConfigError, match="1.5"):
        validate_config(config)


@pytest.mark.parametrize("rho", [0, -0.5, 1.5])
def test_rho_outside_unit_interval_rejected(validator, config, rho):
    config["methods"]["annealed-cfg"] = {"rho": rho}

    assert any(str(rho) in message for message in schema_messages(validator, config))
    with pytest.raises(ConfigError, match=f"rho.*{rho}"):
        validate_config(config)


def test_rho_of_one_accepted(validator, config):
    config["methods"]["nats-sngan"] = {"rho": 1.0}

    assert schema_messages(validator, config) == []
    validate_config(config)


@pytest.mark.parametrize(
    "key, value",
    [("device", "tpu"), ("threads_per_job", 0), ("seeds", []), ("seeds", [-1]), ("name", "my results")],
)
def test_invalid_top_level_value_rejected_by_schema(validator, config, key, value):
    config[key] = value

    assert schema_messages(validator, config) != []


def test_snakemake_validate_reports_value(config):
    bad_config = copy.deepcopy(config)
    bad_config["datasets"]["digits"]["budget_kimg"] = -3

    with pytest.raises(WorkflowError) as raised:
        snakemake_validate(bad_config, schema=str(SCHEMA_FILE), set_default=False)

    assert "-3" in str(raised.value)
    snakemake_validate(config, schema=str(SCHEMA_FILE), set_default=False)


def test_readme_documents_every_key(schema):
    readme = (REPO_DIR / "config" / "README.md").read_text()
    keys = set(schema["properties"])
    for defaults in (
        *METHOD_DEFAULTS.values(), *DATASET_DEFAULTS.values(), *EVALUATION_DEFAULTS.values(),
        PERFORMANCE_DEFAULTS, *RESOURCE_DEFAULTS.values(),
    ):
        keys.update(defaults)
    keys.update(schema["$defs"]["rule_resources"]["properties"])
    keys.add("source")

    undocumented = sorted(key for key in keys if f"| `{key}` |" not in readme)

    assert undocumented == []


@pytest.mark.parametrize(
    ("method", "key", "value", "expected"),
    [
        ("annealed-cfg", "g_width", 0, "integer >= 1"),
        ("sngan", "d_width", -4, "integer >= 1"),
        ("wgan-gp", "beta1", 1.5, "in [0, 1)"),
        ("wgan-gp", "lr_d", float("inf"), "finite number > 0"),
        ("wgan-gp", "gp_weight", float("nan"), "finite number > 0"),
        ("annealed-cfg", "eta", float("nan"), "finite number > 0"),
        ("cfg", "init_fit_steps", -3, "integer >= 0"),
        ("cfg", "approx_lr_cuts", -1, "integer >= 0"),
        ("cfg", "init_linear_std", -1, "finite number > 0"),
        ("cfg", "rmsprop_alpha", 2, "in (0, 1)"),
        ("cfg", "g_batch_norm", "no", "true or false"),
        ("nats-sngan", "num_levels", 0, "integer >= 1 or null"),
        ("nats-sngan", "g_regression_steps", 1.5, "integer >= 1"),
    ],
)
def test_out_of_range_setting_names_key_and_range(config, method, key, value, expected):
    config["methods"][method] = {key: value}

    with pytest.raises(ConfigError, match=re.escape(expected)) as raised:
        validate_config(config)
    assert f"methods.{method}.{key}" in str(raised.value)


def test_batch_norm_in_wgan_gp_critic_rejected(config):
    config["overrides"] = {"digits": {"nats-wgan-gp": {"d_batch_norm": True}}}

    with pytest.raises(ConfigError, match="d_batch_norm: false"):
        validate_config(config)


def test_schema_lists_every_architecture_performance_key_and_rule(schema):
    method_settings = schema["$defs"]["method_settings"]["properties"]

    assert set(method_settings["architecture"]["enum"]) == set(ARCHITECTURES)
    assert set(schema["properties"]["performance"]["properties"]) == set(PERFORMANCE_DEFAULTS)
    assert set(schema["properties"]["resources"]["properties"]) == set(RESOURCE_DEFAULTS)


def image_config(**dataset_settings) -> dict:
    return {
        "name": "images",
        "seeds": [0],
        "datasets": {"cifar10": dataset_settings},
        "methods": {"sngan": {"architecture": "sngan-resnet"}},
        "evaluation": {"images": {"protocols": ["inception"]}},
    }


def test_image_dataset_resolves_source_and_file_settings():
    run_config = resolve_run_config(image_config(data_root="/datasets"), "cifar10", "sngan", 0)

    assert run_config["dataset"] == {
        "name": "cifar10", "source": "cifar10", "resolution": 32,
        "data_root": "/datasets", "download": False, "in_memory": "auto",
    }
    assert run_config["method"]["architecture"] == "sngan-resnet"
    assert run_config["evaluation"]["protocol"] == "images"
    inception = run_config["evaluation"]["images"]["protocols"]["inception"]
    assert inception["reference"] is None
    assert inception["reference_split"] == "train"


def test_image_dataset_needs_image_protocol():
    config = image_config()
    del config["evaluation"]

    with pytest.raises(ConfigError, match="list at least one of inception, clean, legacy in evaluation.images.protocols"):
        validate_config(config)


def test_named_dataset_takes_source_defaults():
    config = image_config()
    config["datasets"] = {"faces": {"source": "imagefolder", "path": "/data/faces", "resolution": 64}}
    run_config = resolve_run_config(config, "faces", "sngan", 0)

    assert run_config["dataset"]["name"] == "faces"
    assert run_config["dataset"]["source"] == "imagefolder"
    assert run_config["dataset"]["path"] == "/data/faces"
    assert run_config["training"]["batch_size"] == DATASET_DEFAULTS["imagefolder"]["batch_size"]


def test_freely_named_dataset_without_source_names_the_fix(validator):
    config = image_config()
    config["datasets"] = {"faces": {"path": "/data/faces"}}

    with pytest.raises(ConfigError, match=r"datasets\.faces\.source"):
        validate_config(config)
    assert schema_messages(validator, config) != []


def test_imagefolder_without_path_names_the_key():
    config = image_config()
    config["datasets"] = {"faces": {"source": "imagefolder"}}

    with pytest.raises(ConfigError, match=r"datasets\.faces\.path must be the path of a folder of images"):
        validate_config(config)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("download", "yes", "download must be true or false"),
        ("in_memory", "sometimes", "in_memory must be auto, true or false"),
        ("data_root", "", "data_root must be the path of a folder"),
        ("resolution", 4, "resolution must be an integer >= 8"),
    ],
)
def test_bad_image_dataset_setting_names_key(validator, key, value, expected):
    config = image_config(**{key: value})

    with pytest.raises(ConfigError, match=re.escape(f"datasets.cifar10.{expected}")):
        validate_config(config)
    assert schema_messages(validator, config) != []


def test_unknown_architecture_lists_the_known_ones(validator):
    config = image_config()
    config["methods"]["sngan"]["architecture"] = "biggan"

    with pytest.raises(ConfigError, match="methods.sngan.architecture 'biggan' is unknown; expected one of auto"):
        validate_config(config)
    assert schema_messages(validator, config) != []


def test_performance_settings_reach_the_training_block():
    config = image_config()
    config["performance"] = {"bf16": True}
    training = resolve_run_config(config, "cifar10", "sngan", 0)["training"]

    assert training["performance"] == {**PERFORMANCE_DEFAULTS, "bf16": True}


def test_non_boolean_performance_setting_rejected(validator):
    config = image_config()
    config["performance"] = {"compile": "max-autotune"}

    with pytest.raises(ConfigError, match="performance.compile must be true or false"):
        validate_config(config)
    assert schema_messages(validator, config) != []


def test_rule_resources_merge_defaults_with_the_config():
    config = image_config()
    config["resources"] = {"train": {"gpu": 1, "slurm_partition": "gpu", "runtime": 2880}}

    assert rule_resources(config, "train") == {
        "mem_mb": 4096, "runtime": 2880, "gpu": 1, "slurm_partition": "gpu", "slurm_extra": "--signal=TERM@300",
    }
    assert rule_resources(config, "evaluate") == RESOURCE_DEFAULTS["evaluate"]


def test_misspelled_resource_key_rejected(validator):
    config = image_config()
    config["resources"] = {"train": {"gpus": 1}}

    with pytest.raises(ConfigError, match="unknown key\\(s\\) 'gpus' in resources.train"):
        validate_config(config)
    assert schema_messages(validator, config) != []


def test_run_written_before_new_settings_existed_can_resume():
    config = image_config()
    requested = resolve_run_config(config, "cifar10", "sngan", 0)
    older = copy.deepcopy(requested)
    for key in ("architecture", "g_batch_multiplier", "lr_decay"):
        del older["method"][key]
    del older["training"]["performance"]
    requested["method"]["architecture"] = "auto"

    assert run_settings_conflicts(older, requested) == []


def test_bf16_is_a_conflict_but_compile_is_not():
    config = image_config()
    existing = resolve_run_config(config, "cifar10", "sngan", 0)
    config["performance"] = {"compile": True, "channels_last": True, "tf32": False}
    faster = resolve_run_config(config, "cifar10", "sngan", 0)
    config["performance"]["bf16"] = True
    lower_precision = resolve_run_config(config, "cifar10", "sngan", 0)

    assert run_settings_conflicts(existing, faster) == []
    assert run_settings_conflicts(existing, lower_precision) == ["training.bf16"]


def test_gpu_jobs_request_one_gpu():
    config = image_config()
    config["device"] = "auto"

    assert rule_resources(config, "train")["gpu"] == 1
    assert rule_resources(config, "evaluate")["gpu"] == 1
    assert rule_resources(config, "classifier")["gpu"] == 0
    config["resources"] = {"train": {"gpu": 0}}
    assert rule_resources(config, "train")["gpu"] == 0


def test_architecture_resolutions_match_the_network_registry():
    from nats.networks import ARCHITECTURES as REGISTRY

    assert set(REGISTRY) == set(ARCHITECTURE_RESOLUTIONS)
    for name, resolutions in ARCHITECTURE_RESOLUTIONS.items():
        assert REGISTRY[name].resolutions == resolutions, name


def test_architecture_at_an_unsupported_resolution_fails_validation():
    config = image_config()
    config["methods"]["sngan"]["architecture"] = "cfg-resnet4"

    with pytest.raises(ConfigError, match="supports 64x64 images, but datasets.cifar10.resolution is 32"):
        validate_config(config)


def test_paper_architecture_on_2d_points_fails_validation():
    config = image_config()
    config["datasets"] = {"ring8": {}}

    with pytest.raises(ConfigError, match="ring8 is 2D point data; set architecture: auto"):
        validate_config(config)


def test_slurm_extra_keeps_checkpoint_signal():
    config = image_config()
    config["resources"] = {"train": {"slurm_extra": "--exclusive"}}

    assert rule_resources(config, "train")["slurm_extra"] == "--exclusive --signal=TERM@300"
    config["resources"] = {"train": {"slurm_extra": "--signal=USR1@600"}}
    assert rule_resources(config, "train")["slurm_extra"] == "--signal=USR1@600"
