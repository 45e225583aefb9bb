# NATS-bench pipeline: train every method of the config's grid (datasets x
# methods x seeds), evaluate every run, then aggregate the metrics and render
# tables and plots under results/<config name>/.
#
#   snakemake --cores all                             # config/config.yaml
#   snakemake --cores all --configfile my-grid.yaml
#   snakemake --report report.html                    # after a run
#
# A config given with --configfile replaces config/config.yaml instead of
# being merged into it, so that no smoke setting leaks into another grid.

from snakemake.utils import min_version

min_version("9.0")


if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"


# `snakemake --report report.html` gathers the tables and plots with the
# captions of workflow/report/.
report: "workflow/report/workflow.rst"


rule all:
    input:
        TABLES_DIR,
        PLOTS_DIR,
    default_target: True


include: "workflow/rules/data.smk"
include: "workflow/rules/classifier.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


# Light steps that a cluster executor runs on the submitting machine.
localrules:
    all,
    prepare_dataset,
    aggregate,
    tables,
    plots,
