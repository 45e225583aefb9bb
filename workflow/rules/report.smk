# One metrics table for the whole grid, then the tables and plots drawn from it.


rule aggregate:
    input:
        every_run(f"{RUN_DIR}/metrics.jsonl"),
    output:
        METRICS_CSV,
    params:
        runs_dir=RUNS_DIR,
    log:
        f"{LOGS_DIR}/aggregate.log",
    shell:
        "{NATS_CLI} aggregate --runs-dir {params.runs_dir:q} --out {output:q} > {log:q} 2>&1"


rule tables:
    input:
        METRICS_CSV,
    output:
        report(
            directory(TABLES_DIR),
            patterns=["{table}.csv"],
            caption="../report/tables.rst",
            category="Tables",
            labels={"table": "{table}"},
        ),
    log:
        f"{LOGS_DIR}/tables.log",
    shell:
        "{NATS_CLI} tables --metrics {input:q} --out-dir {output:q} > {log:q} 2>&1"


rule plots:
    input:
        metrics=METRICS_CSV,
        samples=every_run(f"{RUN_DIR}/samples.npz"),
    output:
        report(
            directory(PLOTS_DIR),
            patterns=["curves/{name}.png", "samples/{name}.png"],
            caption="../report/plots.rst",
            category="Plots",
            labels={"plot": "{name}"},
        ),
    params:
        runs_dir=RUNS_DIR,
    log:
        f"{LOGS_DIR}/plots.log",
    shell:
        "{NATS_CLI} plots --metrics {input.metrics:q} --runs-dir {params.runs_dir:q} --out-dir {output:q} > {log:q} 2>&1"
