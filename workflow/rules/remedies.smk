# Remedies for the large-batch gap beside the rival explanations: one table, figure and report per
# remedy comparison (config remedy_comparisons). Light: on a cluster it runs on the head node.


localrules:
    remedy_comparison,


rule remedy_comparison:
    input:
        summaries=lambda wc: remedy_files(wc.comparison, "summary.json"),
        sharpness=lambda wc: remedy_files(wc.comparison, "sharpness.json"),
        spectra=lambda wc: remedy_files(wc.comparison, "weight_spectra.csv"),
        rankloss=lambda wc: [f"{ANALYSIS.format(experiment=e)}/rankloss.csv" for e in compared(wc.comparison)],
        scale_invariant=lambda wc: [
            f"{ANALYSIS.format(experiment=e)}/scale_invariant.csv" for e in compared(wc.comparison)
        ],
    output:
        **remedy_outputs(),
    log:
        "results/logs/remedies/{comparison}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        runs=lambda wc: remedy_runs(wc.comparison),
        experiments=lambda wc: compared(wc.comparison),
        baseline=lookup(dpath="remedy_comparisons/{comparison}/baseline", within=config),
        dataset=lookup(dpath="remedy_comparisons/{comparison}/dataset", within=config),
        threshold=lookup(dpath="remedy_comparisons/{comparison}/threshold", within=config),
        caption=lambda wc: config["remedy_comparisons"][wc.comparison].get(
            "caption", f"Remedies for the large-batch gap: {wc.comparison}"
        ),
        reported_loss=config["reported_loss"],
        code=code("remedies"),
    script:
        "../scripts/remedies.py"
