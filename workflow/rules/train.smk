# One training run per dataset, method and seed.
#
# Besides final.pt, the train command writes config.yaml, provenance.json,
# log.jsonl and checkpoints/ into the run folder. They are not outputs, so
# Snakemake neither requires nor deletes them.


rule train:
    input:
        dataset_manifest,
    output:
        f"{RUN_DIR}/final.pt",
    params:
        run_config=run_config_json,
        run_dir=lambda wildcards, output: str(Path(output[0]).parent),
    log:
        f"{LOGS_DIR}/train/{RUN_LOG_NAME}",
    threads: THREADS_PER_JOB
    resources:
        **TRAIN_RESOURCES,
    shell:
        "{NATS_CLI} train --run-config {params.run_config:q} --run-dir {params.run_dir:q}"
        " --threads {threads} > {log:q} 2>&1"
