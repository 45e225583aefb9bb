# Image datasets: checked, and downloaded where the config allows it, once
# per dataset before any of its runs trains.
#
# This runs on the machine that submits the jobs (a local rule), which on a
# cluster is usually the one with network access. A missing dataset with
# download: false fails here, naming the paths and the layout it expects.

DATASET_MANIFEST = f"{RESULTS_DIR}/datasets/{{dataset}}.json"


def is_image_dataset(dataset: str) -> bool:
    """Whether a grid dataset is read from image files (all but digits and the 2D mixtures)."""
    return "source" in resolve_run_config(config, dataset, METHODS[0], SEEDS[0])["dataset"]


def dataset_settings_json(wildcards) -> str:
    """Return the resolved settings of a grid dataset as compact JSON."""
    settings = resolve_run_config(config, wildcards.dataset, METHODS[0], SEEDS[0])["dataset"]
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))


def dataset_manifest(wildcards) -> list[str]:
    """Return the manifest a run waits for: one for image datasets, none otherwise."""
    if is_image_dataset(wildcards.dataset):
        return [DATASET_MANIFEST.format(dataset=wildcards.dataset)]
    return []


rule prepare_dataset:
    output:
        DATASET_MANIFEST,
    params:
        settings=dataset_settings_json,
    log:
        f"{LOGS_DIR}/prepare_dataset/{{dataset}}.log",
    shell:
        "{NATS_CLI} prepare-data --dataset {wildcards.dataset:q} --settings {params.settings:q}"
        " --out {output:q} > {log:q} 2>&1"
