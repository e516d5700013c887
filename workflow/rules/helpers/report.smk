# The input functions and targets of the rules in ../report.smk (snakemake --lint wants
# functions apart from rules), beside them.


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
