# Metrics of one trained run: metrics.jsonl (one record per checkpoint and
# metric) and the generated samples that the plots draw.

# Real-image features of the image protocols, shared by every run of the
# grid and keyed by a hash of the protocol.
REAL_FEATURES_CACHE_DIR = f"{RESULTS_DIR}/cache/real-features"


def evaluation_inputs(wildcards) -> dict:
    """Return the weights of the run, plus the digits classifier for digits runs."""
    inputs = {"weights": RUN_DIR.format(**wildcards) + "/final.pt"}
    if wildcards.dataset == "digits":
        inputs["classifier"] = CLASSIFIER_FILE
    return inputs


def cache_option(wildcards) -> str:
    """Return " --cache-dir DIR" for runs scored under image protocols, empty otherwise."""
    image_settings = resolve_run(wildcards)["evaluation"].get("images")
    if not image_settings:
        return ""
    cache_dir = image_settings["cache_dir"] or REAL_FEATURES_CACHE_DIR
    return f" --cache-dir {shlex.quote(str(cache_dir))}"


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
        cache_option=cache_option,
        evaluation=lambda wildcards: json.dumps(resolve_run(wildcards)["evaluation"], sort_keys=True, separators=(",", ":")),
    log:
        f"{LOGS_DIR}/evaluate/{RUN_LOG_NAME}",
    threads: THREADS_PER_JOB
    resources:
        **EVALUATE_RESOURCES,
    shell:
        "{NATS_CLI} evaluate --run-dir {params.run_dir:q} --out {output.metrics:q}"
        " --samples {output.samples:q} --evaluation {params.evaluation:q}"
        " {params.classifier_option}{params.cache_option} --threads {threads} > {log:q} 2>&1"
