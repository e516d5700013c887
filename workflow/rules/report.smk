# The paper's artifacts: tables from the runs' summaries, figures from the rank-loss counts; and
# the table of every run of the config (`snakemake runs`). All light: on a cluster they run on the
# head node.


def trend_figures():
    """Figures against batch size (the paper's kind) and their experiments: the comparison checks their trend."""
    return {name: spec["experiment"] for name, spec in config["figures"].items() if spec["plot"] == "batch_size"}


def table_trend_figures(table):
    """The thresholds of the figures against batch size of a table's experiment, by figure: their
    trends are checked in the table's comparison."""
    experiment = config["tables"][table]["experiment"]
    return {f: config["figures"][f]["threshold"] for f, e in trend_figures().items() if e == experiment}


def table_comparison_inputs(wildcards):
    """A table, its runs' summaries (and a switch table's runs without the switch), the paper's
    numbers and the analysis plan; and when a figure of its experiment is compared too, the
    experiment's counts and measures."""
    table = wildcards.table
    inputs = {
        "table": f"{TABLE.format(table=table)}.csv",
        "summaries": table_runs(table),
        "unswitched": [run["summary"] for run in run_records(unswitched_runs(table))],
        "reference": PAPER_REFERENCE,
        "plan": ANALYSIS_PLAN,
    }
    if table_trend_figures(table):
        folder = ANALYSIS.format(experiment=config["tables"][table]["experiment"])
        inputs |= {"counts": f"{folder}/rankloss.csv", "measures": f"{folder}/measures.csv"}
    return inputs


def table_runs(table):
    """Summaries of a table's runs, the baseline run (Table 11) first."""
    return [run["summary"] for run in run_records(table_run_wildcards(table))]


def caption(kind, name):
    spec = config[kind][name]
    return spec.get("caption", f"{name}: experiment {spec['experiment']}")


def figure_input(wildcards):
    """A figure's data: its experiment's measures for a figure of a measure, its counts otherwise."""
    spec = config["figures"][wildcards.figure]
    kind = "measures" if spec["plot"] == "measure" else "rankloss"
    return f"{ANALYSIS.format(experiment=spec['experiment'])}/{kind}.csv"


def figure_probe(figure):
    """The probe a figure is taken on: the paper's figures keep the paper's probe batch
    (docs/choices.md); a measure compared across batch sizes is taken on the fixed probe."""
    return COMPARED_PROBES["fixed" if config["figures"][figure]["plot"] == "measure" else "batch"]


def model_label(kind):
    """Report category of a table or figure: its experiment's model and variant (the config's own
    models: their name)."""

    def label(wildcards):
        name = wildcards.table if kind == "tables" else wildcards.figure
        experiment = config["experiments"][config[kind][name]["experiment"]]
        if experiment["model"] in config["models"]:
            return experiment["model"]
        return registry.model_label(experiment["model"], experiment["variant"])

    return label


def report_requested():
    """Whether this is `snakemake --report`: parsed with the config like a run, but Snakemake then
    embeds whatever files are there, without asking whether this config made them."""
    return any(arg == "--report" or arg.startswith("--report=") for arg in sys.argv)


def check_report_is_current():
    """Refuse a report whose files this config has not made (missing, outdated, or another config's
    of the same path): a dry run of the same command, without --report, must have nothing to do."""
    arguments, skip = [], False
    for arg in sys.argv[1:]:
        if skip or arg == "--report" or arg.startswith("--report="):
            skip = arg == "--report"
            continue
        arguments.append(arg)
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", *arguments, "--dry-run"], capture_output=True, text=True
    )
    if result.returncode == 0 and "Nothing to be done" in result.stdout + result.stderr:
        return
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, flags=re.MULTILINE))  # its job stats
    pending = ", ".join(f"{rule} {n}" for rule, n in jobs.items() if rule != "total") or "the dry run failed"
    which = (
        f"config '{config['name']}'"
        if workflow.overwrite_configfiles
        else "config.yaml (no --configfile: the paper's full grid; the demo's report is "
        "`snakemake --report report.html --configfile config/demo.yaml`)"
    )
    sys.exit(
        f"ReportError: the report of {which} would show files that are missing, outdated or another "
        f"config's: jobs still to run for it: {pending}. Run `{snakemake_command('--cores 2')}` first (or give --configfile the "
        "config you ran), then the report command again."
    )


# `snakemake --report`: refused where this config has not made the files it would show
if report_requested():
    check_report_is_current()


localrules:
    table,
    figure,
    table_comparison,
    comparison,
    runs,


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
        caption=lambda wc: caption("tables", wc.table),
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
        caption=lambda wc: caption("figures", wc.figure),
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
