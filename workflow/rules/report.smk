# The paper's artifacts: tables from the runs' summaries, figures from the rank-loss counts.
# All light: on a cluster they run on the head node.


localrules:
    table,
    figure,
    comparison,


rule table:
    input:
        table_runs,
    output:
        csv=report(
            f"{TABLE}.csv",
            caption="../report/table.rst",
            category=model_label("tables"),
            subcategory=lambda wildcards: config["tables"][wildcards.table]["dataset"],
            labels={"table": "{table}"},
        ),
        md=f"{TABLE}.md",
        tex=f"{TABLE}.tex",
    params:
        caption=lambda wc: caption("tables", wc.table),
        code=code("tables"),
    conda:
        "../../envs/analysis.yaml"
    log:
        "results/logs/tables/{table}.log",
    script:
        "../scripts/table.py"


rule figure:
    input:
        lambda wc: f"{ANALYSIS.format(experiment=config['figures'][wc.figure]['experiment'])}/rankloss.csv",
    output:
        pdf=f"{FIGURE}.pdf",
        png=report(
            f"{FIGURE}.png",
            caption="../report/figure.rst",
            category=model_label("figures"),
            subcategory="figures",
            labels={"figure": "{figure}"},
        ),
    params:
        threshold=lambda wc: config["figures"][wc.figure]["threshold"],
        plot=lambda wc: config["figures"][wc.figure]["plot"],
        caption=lambda wc: caption("figures", wc.figure),
        code=code("figures"),
    conda:
        "../../envs/analysis.yaml"
    log:
        "results/logs/figures/{figure}.log",
    script:
        "../scripts/figure.py"


rule comparison:
    input:
        tables=expand(f"{TABLE}.csv", table=config["tables"]),
        rankloss=[f"{ANALYSIS.format(experiment=e)}/rankloss.csv" for e in trend_figures().values()],
    output:
        csv=f"{COMPARISON}.csv",
        md=report(f"{COMPARISON}.md", caption="../report/comparison.rst", category="Paper comparison"),
    params:
        tables=list(config["tables"]),
        figures=trend_figures(),
        thresholds={name: config["figures"][name]["threshold"] for name in config["figures"]},
        code=code("paper"),
    conda:
        "../../envs/analysis.yaml"
    log:
        "results/logs/comparison.log",
    script:
        "../scripts/comparison.py"
