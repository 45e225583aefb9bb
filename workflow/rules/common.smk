# Config validation, result paths and helpers shared by every rule.

import json
import re
import shlex
import sys
from pathlib import Path

from snakemake.utils import validate

REPO_DIR = Path(workflow.basedir)

# The workflow runs the nats package of the checkout it belongs to, whether
# or not that checkout is installed in the running environment.
if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))

import yaml

from nats.config import resolve_run_config, rule_resources, run_settings_conflicts, validate_config

CONFIG_SCHEMA = str(REPO_DIR / "workflow" / "schemas" / "config.schema.yaml")

# nats.config names the offending key and what is allowed in one line, so
# it runs first. The schema stays as a second check, and reports
# structural errors (a list where a mapping belongs) that trip nats.config.
try:
    validate_config(config)
except (TypeError, AttributeError, KeyError):
    validate(config, schema=CONFIG_SCHEMA, set_default=False)
    raise
validate(config, schema=CONFIG_SCHEMA, set_default=False)


CONFIG_NAME = config["name"]
DATASETS = list(config["datasets"])
METHODS = list(config["methods"])
SEEDS = list(config["seeds"])
THREADS_PER_JOB = config.get("threads_per_job", 1)

# Scheduler requests per rule (memory, runtime, GPUs, SLURM keys), from the
# config's resources block over nats.defaults.RESOURCE_DEFAULTS.
TRAIN_RESOURCES = rule_resources(config, "train")
EVALUATE_RESOURCES = rule_resources(config, "evaluate")
CLASSIFIER_RESOURCES = rule_resources(config, "classifier")

RESULTS_DIR = f"results/{CONFIG_NAME}"
RUNS_DIR = f"{RESULTS_DIR}/runs"
LOGS_DIR = f"{RESULTS_DIR}/logs"
RUN_DIR = RUNS_DIR + "/{dataset}/{method}/seed{seed}"
RUN_LOG_NAME = "{dataset}/{method}/seed{seed}.log"
CLASSIFIER_FILE = f"{RESULTS_DIR}/classifier/digits-cnn.pt"
METRICS_CSV = f"{RESULTS_DIR}/metrics.csv"
TABLES_DIR = f"{RESULTS_DIR}/tables"
PLOTS_DIR = f"{RESULTS_DIR}/plots"

# Jobs call the CLI with the interpreter that runs Snakemake, so a virtual
# environment works without activation.
NATS_CLI = (
    f"PYTHONPATH={shlex.quote(str(REPO_DIR))}${{PYTHONPATH:+:$PYTHONPATH}} "
    f"{shlex.quote(sys.executable)} -m nats"
)


wildcard_constraints:
    dataset="|".join(map(re.escape, DATASETS)),
    method="|".join(map(re.escape, METHODS)),
    seed=r"\d+",


def resolve_run(wildcards) -> dict:
    """Return the resolved run config of the run named by ``wildcards``."""
    return resolve_run_config(config, wildcards.dataset, wildcards.method, int(wildcards.seed))


def run_config_json(wildcards) -> str:
    """Return the training part of a run's resolved config as compact JSON.

    The evaluation settings go to the evaluate rule instead, so that
    changing them reruns the evaluation but not the training.
    """
    run_config = resolve_run(wildcards)
    training_part = {key: value for key, value in run_config.items() if key != "evaluation"}
    return json.dumps(training_part, sort_keys=True, separators=(",", ":"))


def every_run(pattern: str) -> list[str]:
    """Expand ``pattern`` over every dataset, method and seed of the grid."""
    return expand(pattern, dataset=DATASETS, method=METHODS, seed=SEEDS)


def check_existing_runs() -> None:
    """Stop before any job runs if a run folder of this grid holds other settings.

    Snakemake would otherwise delete such a run's final.pt before its train
    job rejects the folder. A larger budget_kimg is not a conflict: it
    extends the run.
    """
    conflicts = []
    for dataset in DATASETS:
        for method in METHODS:
            for seed in SEEDS:
                path = Path(RUNS_DIR) / dataset / method / f"seed{seed}" / "config.yaml"
                if not path.is_file():
                    continue
                existing = yaml.safe_load(path.read_text())
                keys = run_settings_conflicts(existing, resolve_run_config(config, dataset, method, seed))
                if keys:
                    conflicts.append(f"{path.parent} ({', '.join(keys)})")
    if conflicts:
        raise ValueError(
            f"{RESULTS_DIR} contains runs written with other settings: {'; '.join(conflicts)}. "
            "Give the changed config another name, or move those run folders away."
        )


check_existing_runs()


def check_inception_weights() -> None:
    """Stop before any job runs if a selected image protocol lacks its Inception weights file.

    Without this, a missing file would surface in the first evaluation job,
    after its run had trained.
    """
    from nats.metrics.weights import CLEANFID_WEIGHTS, TORCH_FIDELITY_WEIGHTS, find_weights

    library_weights = {"inception": ("torch_fidelity", TORCH_FIDELITY_WEIGHTS)}
    library_weights["clean"] = library_weights["legacy"] = ("clean_fid", CLEANFID_WEIGHTS)
    for dataset in DATASETS:
        image_settings = resolve_run_config(config, dataset, METHODS[0], SEEDS[0])["evaluation"].get("images")
        for protocol in (image_settings or {}).get("protocols", {}):
            key, weights = library_weights[protocol]
            find_weights(weights, image_settings["inception_weights"][key])


# Snakemake runs onstart only when it executes jobs, so a dry run or a
# report on a machine without the weights still works.
onstart:
    check_inception_weights()
