# Metrics of one trained run: metrics.jsonl (one record per checkpoint and
# metric) and the generated samples that the plots draw.


def evaluation_inputs(wildcards) -> dict:
    """Return the weights of the run, plus the digits classifier for digits runs."""
    inputs = {"weights": RUN_DIR.format(**wildcards) + "/final.pt"}
    if wildcards.dataset == "digits":
        inputs["classifier"] = CLASSIFIER_FILE
    return inputs


def classifier_option(wildcards, input) -> str:
    """Return the --classifier option of the evaluate command, empty for 2D data."""
    if "classifier" in input.keys():
        return f"--classifier {shlex.quote(input.classifier)}"
    return ""


rule evaluate:
    input:
        unpack(evaluation_inputs),
    output:
        metrics=f"{RUN_DIR}/metrics.jsonl",
        samples=f"{RUN_DIR}/samples.npz",
    params:
        run_dir=lambda wildcards, input: str(Path(input.weights).parent),
        classifier_option=classifier_option,
    log:
        f"{LOGS_DIR}/evaluate/{RUN_LOG_NAME}",
    threads: THREADS_PER_JOB
    resources:
        mem_mb=4096,
        runtime=60,
    shell:
        "{NATS_CLI} evaluate --run-dir {params.run_dir:q} --out {output.metrics:q}"
        " --samples {output.samples:q} {params.classifier_option} --threads {threads} > {log:q} 2>&1"
