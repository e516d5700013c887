# Remedies for the large-batch gap beside the rival explanations: one table, figure and report per
# remedy comparison (config remedy_comparisons). Light: on a cluster it runs on the head node.


include: "helpers/remedies.smk"


rule remedy_comparison:
    """A remedies comparison: each remedy's effect on the gap, and which measure tracks it."""
    input:
        remedy_inputs,
        template=TEMPLATES["remedy_comparison"],
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
        caption=lambda wc: config["remedy_comparisons"][wc.comparison]["caption"],
        reported_loss=config["reported_loss"],
        code=code("remedies"),
    script:
        "../scripts/remedies.py"
