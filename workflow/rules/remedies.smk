# Remedies for the large-batch gap beside the rival explanations: one table, figure and report per
# remedy comparison (config remedy_comparisons). Light: on a cluster it runs on the head node.

REMEDY_RUN_FILES = {"summary": "summary.json", "sharpness": "sharpness.json", "weight_spectra": "weight_spectra.csv"}


def remedy_run_files(comparison):
    """Per run of a comparison: its wildcards and its files (REMEDY_RUN_FILES)."""
    return [
        {"wildcards": run, **{key: f"{RUN.format(**run)}/{name}" for key, name in REMEDY_RUN_FILES.items()}}
        for run in remedy_runs(comparison)
    ]


def remedy_experiment_files(comparison):
    """Per experiment of a comparison: its rank-loss counts and its measures (per layer and mode)."""
    return {
        experiment: {name: f"{ANALYSIS.format(experiment=experiment)}/{name}.csv" for name in ("rankloss", "measures")}
        for experiment in compared(comparison)
    }


def remedy_inputs(wildcards):
    """The files of remedy_run_files and remedy_experiment_files, as a rule's input."""
    runs = [path for run in remedy_run_files(wildcards.comparison) for key, path in run.items() if key != "wildcards"]
    return runs + [path for files in remedy_experiment_files(wildcards.comparison).values() for path in files.values()]


localrules:
    remedy_comparison,


rule remedy_comparison:
    """A remedies comparison: each remedy's effect on the gap, and which measure tracks it."""
    input:
        remedy_inputs,
        template=workflow.source_path(TEMPLATES["remedy_comparison"]),
        plan=ANALYSIS_PLAN,
    output:
        **remedy_outputs(),
    log:
        "results/logs/remedies/{comparison}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        runs=lambda wc: remedy_run_files(wc.comparison),  # the files above, named
        experiments=lambda wc: remedy_experiment_files(wc.comparison),
        baseline=lookup(dpath="remedy_comparisons/{comparison}/baseline", within=config),
        dataset=lookup(dpath="remedy_comparisons/{comparison}/dataset", within=config),
        threshold=lookup(dpath="remedy_comparisons/{comparison}/threshold", within=config),
        probe=COMPARED_PROBES["fixed"],  # measures compared across batch sizes: on the fixed probe
        caption=lambda wc: config["remedy_comparisons"][wc.comparison].get(
            "caption", f"Remedies for the large-batch gap: {wc.comparison}"
        ),
        reported_loss=config["reported_loss"],
        code=code("remedies"),
    script:
        "../scripts/remedies.py"
