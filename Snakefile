# rankgap: near-rank loss of activations against batch size.
# `snakemake --cores 8 --resources gpu=2` builds every table and figure of the paper (config.yaml);
# `--configfile config/demo.yaml` swaps in another grid (it replaces config.yaml, not extends it).
from snakemake.utils import min_version

min_version("9.0")

if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "workflow/rules/common.smk"


report: "workflow/report/workflow.rst"


wildcard_constraints:
    experiment=_names(config["experiments"]),
    dataset=_names(SHAPES),
    batch_size=r"\d+",
    seed=r"\d+",
    epoch=r"\d+",
    probe=_names(configuration.probe_kinds(config)),
    table=_names(config["tables"]),
    figure=_names(config["figures"]),
    appendix=_names(RANDOM["distributions"]),
    distribution=_names(sorted(set(RANDOM["distributions"].values()))),
    m=r"\d+",
    n=r"\d+",
    comparison=_names(config["remedy_comparisons"]),


include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/probe.smk"
include: "workflow/rules/rank.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/random_matrices.smk"
include: "workflow/rules/publish.smk"
include: "workflow/rules/rivals.smk"
include: "workflow/rules/remedies.smk"


rule random_matrices:
    """The appendix alone: Tables and Figures A1-A3 and their comparison with the paper (long: see README)."""
    input:
        random_matrix_artifacts(),


rule all:
    """The default: every table and figure of the config, its rival measures and remedy comparisons."""
    default_target: True
    input:
        paper_artifacts(),
        rival_artifacts(),
        remedy_artifacts(),


onsuccess:
    logger.info(results_message())
