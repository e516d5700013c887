# The paper's artifacts: tables from the runs' summaries, figures from the rank-loss counts.


rule table:
    input:
        table_runs,
    output:
        csv=report(f"{TABLE}.csv", category="Tables", labels={"table": "{table}", "format": "csv"}),
        md=f"{TABLE}.md",
        tex=f"{TABLE}.tex",
    params:
        caption=lambda wc: caption("tables", wc.table),
        code=code("tables"),
    conda:
        "../../envs/plot.yaml"
    log:
        "results/logs/tables/{table}.log",
    script:
        "../scripts/table.py"


rule figure:
    input:
        lambda wc: f"{ANALYSIS.format(experiment=config['figures'][wc.figure]['experiment'])}/rankloss.csv",
    output:
        pdf=f"{FIGURE}.pdf",
        png=report(f"{FIGURE}.png", category="Figures", labels={"figure": "{figure}"}),
    params:
        threshold=lambda wc: config["figures"][wc.figure]["threshold"],
        against=lambda wc: config["figures"][wc.figure]["against"],
        caption=lambda wc: caption("figures", wc.figure),
        code=code("figures"),
    conda:
        "../../envs/plot.yaml"
    log:
        "results/logs/figures/{figure}.log",
    script:
        "../scripts/figure.py"
