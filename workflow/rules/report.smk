# The paper's artifacts: tables from the runs' summaries, figures from the rank-loss counts; and
# the table of every run of the config (`snakemake runs`). All light: on a cluster they run on the
# head node.


include: "helpers/report.smk"


rule table:
    """One of the paper's tables from its runs: test error and losses per batch size."""
    input:
        lambda wc: table_runs(wc.table),
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
    log:
        "results/logs/tables/{table}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        caption=lambda wc: config["tables"][wc.table]["caption"],
        reported_loss=config["reported_loss"],
        code=code("table"),
    script:
        "../scripts/table.py"


rule figure:
    """A figure of an experiment: its count against batch size (the paper's), per epoch or in parts, or a measure on the fixed probe."""
    input:
        figure_input,
    output:
        pdf=f"{FIGURE}.pdf",
        png=report(
            f"{FIGURE}.png",
            caption="../report/figure.rst",
            category=model_label("figures"),
            subcategory="figures",
            labels={"figure": "{figure}"},
        ),
    log:
        "results/logs/figures/{figure}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        plot=lookup(dpath="figures/{figure}/plot", within=config),
        threshold=lambda wc: config["figures"][wc.figure].get("threshold"),  # none for a threshold-free measure
        measure=lambda wc: config["figures"][wc.figure].get("measure"),  # plot measure only
        probe=lambda wc: figure_probe(wc.figure),
        caption=lambda wc: config["figures"][wc.figure]["caption"],
        code=code("figure"),
    script:
        "../scripts/figure.py"


rule table_comparison:
    """A table (and its figures) beside the paper's numbers: every claim judged by the analysis plan."""
    input:
        unpack(table_comparison_inputs),
    output:
        numbers=f"{TABLE_COMPARISON}.csv",
        trends=f"{TABLE_COMPARISON}_trends.csv",
        losses=f"{TABLE_COMPARISON}_losses.csv",
    log:
        f"{REPORT_LOGS}/comparison/{{table}}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        thresholds=lambda wc: table_trend_figures(wc.table),
        probes=COMPARED_PROBES,
        dataset=lookup(dpath="tables/{table}/dataset", within=config),
        reported_loss=config["reported_loss"],
        code=code("table_comparison"),
    script:
        "../scripts/table_comparison.py"


rule comparison:
    """Every table and figure beside the paper's: results/report/<name>/paper_comparison.{md,csv}."""
    input:
        numbers=expand(f"{TABLE_COMPARISON}.csv", table=config["tables"]),
        trends=expand(f"{TABLE_COMPARISON}_trends.csv", table=config["tables"]),
        plan=ANALYSIS_PLAN,
    output:
        csv=f"{COMPARISON}.csv",
        trends=f"{COMPARISON}_trends.csv",
        md=report(f"{COMPARISON}.md", caption="../report/comparison.rst", category="Paper comparison"),
    log:
        f"{REPORT_LOGS}/comparison.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        reported_loss=config["reported_loss"],
        code=code("comparison"),
    script:
        "../scripts/comparison.py"


rule runs:
    """Every run of the config with its status, errors, time and commit: results/report/<name>/runs.{csv,md}."""
    input:
        [run["summary"] for run in run_records(all_runs())],
    output:
        csv=f"{REPORT}/runs.csv",
        md=f"{REPORT}/runs.md",
    log:
        f"{REPORT_LOGS}/runs.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        runs=lambda wildcards: job_files(run_records(all_runs())),
        code=code("runs"),
    script:
        "../scripts/runs.py"
