# The paper's artifacts: tables from the runs' summaries, figures from the rank-loss counts.


def table_runs(wildcards):
    spec = config["tables"][wildcards.table]
    runs = settings.runs(config, spec["experiment"], [spec["dataset"]])
    if "baseline" in spec:
        baseline = settings.runs(config, spec["baseline"]["experiment"], [spec["dataset"]])
        runs = [r for r in baseline if r["batch_size"] == spec["baseline"]["batch_size"]] + runs
    return [RUN.format(**r) + "/summary.json" for r in runs]


def caption(kind, name):
    spec = config[kind][name]
    return spec.get("caption", f"{name}: experiment {spec['experiment']}")


rule table:
    input:
        table_runs,
    output:
        csv=report(TABLE + ".csv", category="Tables", labels={"table": "{table}", "format": "csv"}),
        md=TABLE + ".md",
        tex=TABLE + ".tex",
    params:
        caption=lambda wc: caption("tables", wc.table),
        code=code("tables"),
    log:
        "results/logs/tables/{table}.log",
    script:
        "../scripts/table.py"


rule figure:
    input:
        lambda wc: ANALYSIS.format(experiment=config["figures"][wc.figure]["experiment"]) + "/rankloss.csv",
    output:
        pdf=FIGURE + ".pdf",
        png=report(FIGURE + ".png", category="Figures", labels={"figure": "{figure}"}),
    params:
        threshold=lambda wc: config["figures"][wc.figure]["threshold"],
        caption=lambda wc: caption("figures", wc.figure),
        code=code("figures"),
    log:
        "results/logs/figures/{figure}.log",
    script:
        "../scripts/figure.py"
