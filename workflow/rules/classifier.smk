# The digits classifier that the digits metrics use as feature extractor,
# trained once per config.

if "digits" in DATASETS:
    DIGITS_RUN_CONFIG = resolve_run_config(config, "digits", METHODS[0], SEEDS[0])

    rule classifier:
        output:
            CLASSIFIER_FILE,
        params:
            resolution=DIGITS_RUN_CONFIG["dataset"]["resolution"],
            epochs=DIGITS_RUN_CONFIG["evaluation"]["classifier_epochs"],
            seed=DIGITS_RUN_CONFIG["evaluation"]["classifier_seed"],
        log:
            f"{LOGS_DIR}/classifier.log",
        threads: THREADS_PER_JOB
        resources:
            **CLASSIFIER_RESOURCES,
        shell:
            "{NATS_CLI} classifier --resolution {params.resolution} --epochs {params.epochs}"
            " --seed {params.seed} --out {output:q} > {log:q} 2>&1"
