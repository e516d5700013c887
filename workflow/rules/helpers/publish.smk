# The input functions and targets of the rules in ../publish.smk (snakemake --lint wants
# functions apart from rules), beside them.


def published_runs(runs):
    """``run_records`` with what publishing a run takes: the settings the config gives it (what its
    summary must hold to be published), its final and initial weights (the epoch-0 snapshot, when
    probed) and the records of its probes."""
    return [
        dict(
            run,
            settings=run_settings(SimpleNamespace(**run["wildcards"])),
            weights=f"{RUN.format(**run['wildcards'])}/weights.pt",
            initial=SNAPSHOT.format(epoch=0, **run["wildcards"]) if 0 in SNAPSHOT_EPOCHS else None,
            records=[
                f"{PROBE.format(**run['wildcards'], epoch=epoch, probe=probe)}/record.json"
                for epoch in configuration.probe_epochs(config, run["wildcards"]["experiment"])
                for probe in configuration.probe_kinds(config, run["wildcards"]["experiment"])
            ],
        )
        for run in run_records(runs)
    ]


def published_run_inputs(runs):
    """The files ``published_runs`` names, and the measures of the runs' experiments, as a rule's input."""
    published = published_runs(runs)
    experiments = dict.fromkeys(run["wildcards"]["experiment"] for run in published)
    return {
        "summaries": [run["summary"] for run in published],
        "weights": [run["weights"] for run in published],
        "initial_weights": [run["initial"] for run in published if run["initial"]],
        "records": [record for run in published for record in run["records"]],
        "measures": [f"{ANALYSIS.format(experiment=e)}/measures.csv" for e in experiments],
    }


def require_publish():
    if not config["publish"]:
        raise ValueError("nothing to publish: set publish.folder in the config (see config/fashion_mnist.yaml)")


def published_parts():
    """The parts of the publication: every table and every remedy comparison of the config."""
    return [*config["tables"], *config["remedy_comparisons"]]


def published_on_disk():
    """The parts whose data are published (their provenance, written last, is there): the READMEs
    rule publish renders."""
    return [part for part in published_parts() if Path(PUBLISHED_DATA.format(part=part), "provenance.json").exists()]


TRACKING = f"{PUBLISHED}/tracking"  # which measure tracks the gap, over every published run (rule tracking)
TRACKING_OUTPUTS = {
    "correlations": f"{TRACKING}/correlations.csv",
    "answer": f"{TRACKING}/answer.csv",
    "png": f"{TRACKING}/tracking.png",
    "held_fixed_png": f"{TRACKING}/held_fixed.png",
    "runs": f"{TRACKING}/runs.csv",
}


def tracked_parts():
    """The published parts the answer reads, as (data folder, name): this publication's and those of
    publish.compare_with, where their measures are published (tracking.published_measures)."""
    folders = [Path(PUBLISHED), *map(Path, config["publish"].get("compare_with", []) if config["publish"] else [])]
    return [
        (data, data.parent.name)
        for folder in folders
        for data in sorted(folder.glob("*/data"))
        if (data / "measures.csv").exists() and (data / "provenance.json").exists()
    ]


def readme_inputs(wildcards):
    """What the READMEs are rendered from: the templates, the notes, and the published parts' data."""
    from rankgap import publication_layout

    require_publish()
    if not published_on_disk():
        raise ValueError(
            f"nothing published in {PUBLISHED} yet: publish a part first, "
            f"`{publish_command(PUBLISHED_DATA.format(part='<part>'))}` (or every part: "
            f"`{publish_command('publish_parts')}`)"
        )
    notes = config["publish"].get("notes")
    return {
        **{f"{kind}_template": path for kind, path in TEMPLATES.items()},
        "notes": [notes] if notes else [],
        "data": [str(f) for f in publication_layout.part_files(Path(PUBLISHED), config, published_on_disk())],
        "tracking": [TRACKING_OUTPUTS[key] for key in ("answer", "correlations", "runs")] if tracked_parts() else [],
        "plan": ANALYSIS_PLAN,
    }


def publish_table_inputs(wildcards):
    """Everything a table's published data are made of: the table, its comparison with the paper,
    its experiment's figures, and for the runs table and the provenance its runs' summaries and the
    benchmark files of its training, probes and spectra."""
    require_publish()
    table = wildcards.table
    spec = config["tables"][table]
    figures = [f for f, s in config["figures"].items() if s["experiment"] == spec["experiment"]]
    runs = published_table_runs(table)
    probed = [PROBE.format(**dict(run, epoch=e, probe=p)) for run in runs for e, p in run_probes(run)]
    comparison = TABLE_COMPARISON.format(table=table)
    inputs = published_run_inputs(runs)
    return {
        "table_csv": f"{TABLE.format(table=table)}.csv",
        "table_md": f"{TABLE.format(table=table)}.md",
        "numbers": f"{comparison}.csv",
        "trends": f"{comparison}_trends.csv",
        "losses": f"{comparison}_losses.csv",
        "figures": [f"{FIGURE.format(figure=f)}.png" for f in figures],
        **inputs,
        "train_benchmarks": [summary.replace("summary.json", "train.benchmark.tsv") for summary in inputs["summaries"]],
        **{f"{stage}_benchmarks": [f"{probe}/{stage}.benchmark.tsv" for probe in probed] for stage in PROBE_STAGES},
    }


def published_table_runs(table):
    """The runs a table's part publishes: its own and, for a table of switch runs, those without the
    switch that its comparison reads."""
    return table_run_wildcards(table) + unswitched_runs(table)


def run_probes(run):
    """(probe epoch, probe) of every probe of a run (wildcard dict)."""
    experiment = run["experiment"]
    return [
        (epoch, probe)
        for epoch in configuration.probe_epochs(config, experiment)
        for probe in configuration.probe_kinds(config, experiment)
    ]


def publish_comparison_inputs(wildcards):
    """Everything a remedy comparison's published data are made of: the comparison's outputs, and for
    the provenance its runs' summaries and the benchmark files of every stage they went through."""
    require_publish()
    comparison = wildcards.comparison
    dataset = config["remedy_comparisons"][comparison]["dataset"]
    probed = [PROBE.format(**p) for e in compared(comparison) for p in probes(e, [dataset])]
    return {
        **remedy_outputs(comparison),
        **published_run_inputs(remedy_runs(comparison)),
        **{f"{stage}_benchmarks": remedy_files(comparison, f"{stage}.benchmark.tsv") for stage in RUN_STAGES},
        **{f"{stage}_benchmarks": [f"{probe}/{stage}.benchmark.tsv" for probe in probed] for stage in PROBE_STAGES},
    }


# the stages a remedy comparison's runs go through, per run and per probe (their benchmark files)
RUN_STAGES = ("train", "sharpness", "weight_spectra")
PROBE_STAGES = ("probe", "spectra")


def publish_command(target):
    """The command that builds a publishing target, as the published READMEs quote it."""
    return snakemake_command(f"{target} --cores 2")


def remedy_files(comparison, name):
    """A file of every run of a comparison (summary.json, sharpness.json...), in remedy_runs' order."""
    return [f"{RUN.format(**run)}/{name}" for run in remedy_runs(comparison)]


localrules:
    publish_table,
    publish_comparison,
    publish_parts,
    publish,
    tracking,
