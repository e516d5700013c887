# Paths, config checks and the helpers every stage's rules use: defined once.
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from snakemake.io import get_flag_value
from snakemake.logging import logger

# The rankgap package of this checkout (workflow/rankgap/), imported here and by every job, however
# Snakemake was started: from the checkout or another folder (--directory), as a module of another
# workflow, in the Quick start's venv or an environment it deployed (--sdm conda). On sys.path for the
# workflow, on PYTHONPATH for the jobs' own Pythons: every job (on a cluster node too) parses this file
# first. No install step that one of those modes would skip (modules and --containerize skip
# post-deploy scripts). Torch-free: parsing stays fast.
PACKAGE_DIR = Path(workflow.current_basedir.get_path_or_uri(secret_free=True)).parent  # workflow/
sys.path.insert(0, str(PACKAGE_DIR))
# first, once (a job's own parse finds it there already); set, not required: no envvars directive,
# which asserts a variable the user must define
_OTHER_PATHS = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(PACKAGE_DIR)]
os.environ.update(PYTHONPATH=os.pathsep.join([str(PACKAGE_DIR), *_OTHER_PATHS]))
from rankgap import code_hash, configuration, registry, resources, settings, user_code  # noqa: E402

try:  # a config error names the key and what would be right: shown alone, without the package's traceback
    configuration.fill(config, workflow.source_path("../schemas/config.schema.yaml"))  # checked, defaults filled in
    if config["models"] or config["datasets"]:
        # the config's own models and datasets, measured on the data and the models (torch: only such a config needs it)
        from rankgap import config_entries  # noqa: E402

        DESCRIBED = config_entries.describe(config)
        SHAPES, ACTIVATION_SIZES = DESCRIBED.shapes, DESCRIBED.activations
    else:
        SHAPES, ACTIVATION_SIZES = registry.SHAPES, registry.ACTIVATIONS
    configuration.check(config, SHAPES)
except configuration.ConfigError as error:
    sys.exit(f"ConfigError: {error}")

DATASET = f"{config['data_dir']}/{{dataset}}.safetensors"
RUN = "results/runs/{experiment}/{dataset}/bs{batch_size}-seed{seed}"
SNAPSHOT = f"{RUN}/snapshots/epoch{{epoch}}.pt"  # the weights at a probe epoch before the last
PROBE = f"{RUN}/epoch{{epoch}}/{{probe}}"  # probe: the paper's probe batch or a fixed probe (probe.py)
PROBE_ACTIVATIONS = f"{PROBE}/activations.safetensors"
ANALYSIS = "results/analysis/{experiment}"
TABLE = "results/tables/{table}"
FIGURE = "results/figures/{figure}"
# what is gathered over every run of the config: its own folder, so two configs run in one checkout
# never share (or rerun) one another's (config key `name`)
REPORT = f"results/report/{config['name']}"
REPORT_LOGS = f"results/logs/report/{config['name']}"
COMPARISON = f"{REPORT}/paper_comparison"
TABLE_COMPARISON = f"{COMPARISON}/{{table}}"  # one table's part of it
# the published reproduction (committed): one folder per table and a README (rule publish)
PUBLISHED = config["publish"]["folder"] if config["publish"] else "results/publish-not-configured"
PUBLISHED_DATA = f"{PUBLISHED}/{{part}}/data"  # a part's data, beside its README
RANDOM = config["random_matrices"]
RANDOM_SPECTRA = "results/random_matrices/{distribution}/{m}x{n}.npy"
RANDOM_TABLE = "results/tables/table{appendix}"
RANDOM_FIGURE = "results/figures/fig{appendix}"
RANDOM_COMPARISON = f"{REPORT}/random_matrices_comparison"
REMEDIES = "results/remedies/{comparison}"
# The package's data files, inputs read from the checkout (local(): also where the results are in
# remote storage, --default-storage-provider): the paper's Tables A1-A3 and 1-11, and the analysis
# plan, every verdict's test, written before the data
RANDOM_REFERENCE = local(str(PACKAGE_DIR / "rankgap" / "reference_random_matrices.csv"))
PAPER_REFERENCE = local(str(PACKAGE_DIR / "rankgap" / "reference_paper_tables.csv"))
ANALYSIS_PLAN = local(str(PACKAGE_DIR / "rankgap" / "analysis_plan.yaml"))
RANDOM_SIZES = [(row["m"], n) for row in RANDOM["sizes"] for n in row["n"]]
SNAPSHOT_EPOCHS = configuration.snapshot_epochs(config)


def _names(keys):
    return "|".join(re.escape(k) for k in keys) or "(?!)"


def code(script):
    """The hash of the package modules a rule's script reaches (code_hash.py says what it includes)."""
    return code_hash.of_script(PACKAGE_DIR / "scripts" / f"{script}.py", PACKAGE_DIR / "rankgap")


def gpus(wanted=True):
    """The GPUs a job asks Snakemake for: one when it can use one, none where the config's device is cpu."""
    return int(wanted and config["device"] != "cpu")


def all_runs():
    """Every run of every experiment of the config, as wildcard dicts."""
    return [run for experiment in config["experiments"] for run in configuration.runs(config, experiment)]


def probes(experiment, datasets=None):
    """Every (run, probe epoch, probe) of an experiment, as wildcard dicts."""
    return [
        dict(run, epoch=epoch, probe=probe)
        for run in configuration.runs(config, experiment, datasets)
        for epoch in configuration.probe_epochs(config, experiment)
        for probe in configuration.probe_kinds(config, experiment)
    ]


def job_path(path):
    """A file as a job's script opens it when the script gets it in a param, not from its input or
    output: ``path`` itself, or where the files are in remote storage (--default-storage-provider)
    the local copy Snakemake retrieves it to or uploads it from in that job.  The same value without
    remote storage: the recorded params, and so the reruns, do not change."""
    if workflow.storage_settings.default_storage_provider is None:
        return path
    storage_object = get_flag_value(workflow.modifier.modify_path(path), "storage_object")
    return str(storage_object.local_path()) if storage_object else path


def job_files(records):
    """``records`` (dicts of ``wildcards`` and files: probe_files, run_records) with every file as
    ``job_path`` gives it."""
    return [{key: value if key == "wildcards" else job_path(value) for key, value in r.items()} for r in records]


def paper_artifacts():
    tables = [path for t in config["tables"] for path in multiext(TABLE.format(table=t), ".csv", ".md", ".tex")]
    figures = [path for f in config["figures"] for path in multiext(FIGURE.format(figure=f), ".pdf", ".png")]
    comparison = [f"{COMPARISON}.md", f"{COMPARISON}.csv"] if tables or figures else []
    return tables + figures + comparison + random_matrix_artifacts()


def trend_figures():
    """Figures against batch size (the paper's kind) and their experiments: the comparison checks their trend."""
    return {name: spec["experiment"] for name, spec in config["figures"].items() if spec["plot"] == "batch_size"}


def table_trend_figures(table):
    """The thresholds of the figures against batch size of a table's experiment, by figure: their
    trends are checked in the table's comparison."""
    experiment = config["tables"][table]["experiment"]
    return {f: config["figures"][f]["threshold"] for f, e in trend_figures().items() if e == experiment}


# The probes measures are compared on across batch sizes: the paper's probe batch (its count, as the
# paper takes it) and the fixed probe, the first of probe.fixed_splits (none without one)
COMPARED_PROBES = {
    "batch": configuration.BATCH_PROBE,
    "fixed": config["probe"]["fixed_splits"][0] if config["probe"]["fixed_splits"] else None,
}


def unswitched_runs(table):
    """For a table of switch runs (Table 11): its baseline experiment's runs at the switch runs'
    starting batch sizes, without the switch (the gap the switch is to close); none otherwise."""
    spec = config["tables"][table]
    experiment = config["experiments"][spec["experiment"]]
    if not experiment.get("switch") or "baseline" not in spec:
        return []
    starts = set(experiment["batch_sizes"])
    baseline = configuration.runs(config, spec["baseline"]["experiment"], [spec["dataset"]])
    return [run for run in baseline if run["batch_size"] in starts]


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


def table_run_wildcards(table):
    """A table's runs, as wildcard dicts, the baseline run (Table 11) first."""
    spec = config["tables"][table]
    runs = configuration.runs(config, spec["experiment"], [spec["dataset"]])
    if "baseline" in spec:
        baseline = configuration.runs(config, spec["baseline"]["experiment"], [spec["dataset"]])
        runs = [r for r in baseline if r["batch_size"] == spec["baseline"]["batch_size"]] + runs
    return runs


def table_runs(table):
    """Summaries of a table's runs, the baseline run (Table 11) first."""
    return [run["summary"] for run in run_records(table_run_wildcards(table))]


def run_records(runs):
    """Per run (wildcard dicts): its wildcards and its summary."""
    return [{"wildcards": run, "summary": f"{RUN.format(**run)}/summary.json"} for run in runs]


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


TEMPLATES = {
    kind: f"../templates/{kind}.md.j2" for kind in ("index", "table", "comparison", "provenance", "remedy_comparison")
}


def published_on_disk():
    """The parts whose data are published (their provenance, written last, is there): the READMEs
    rule publish renders."""
    return [part for part in published_parts() if Path(PUBLISHED_DATA.format(part=part), "provenance.json").exists()]


TRACKING = f"{PUBLISHED}/tracking"  # which measure tracks the gap, over every published run (rule tracking)
TRACKING_OUTPUTS = {
    "correlations": f"{TRACKING}/correlations.csv",
    "answer": f"{TRACKING}/answer.csv",
    "png": f"{TRACKING}/tracking.png",
    "runs": f"{TRACKING}/runs.csv",
}


def tracked_parts():
    """The published parts the answer reads, as (data folder, name): this publication's and those of
    publish.compare_with, where their measures are published (tracking.part_files)."""
    folders = [Path(PUBLISHED), *map(Path, config["publish"].get("compare_with", []) if config["publish"] else [])]
    return [
        (data, data.parent.name)
        for folder in folders
        for data in sorted(folder.glob("*/data"))
        if (data / "measures.csv").exists() and (data / "provenance.json").exists()
    ]


def readme_inputs(wildcards):
    """What the READMEs are rendered from: the templates, the notes, and the published parts' data."""
    from rankgap import publication

    require_publish()
    if not published_on_disk():
        raise ValueError(
            f"nothing published in {PUBLISHED} yet: publish a part first, "
            f"`{publish_command(PUBLISHED_DATA.format(part='<part>'))}` (or every part: "
            f"`{publish_command('publish_parts')}`)"
        )
    notes = config["publish"].get("notes")
    return {
        **{f"{kind}_template": workflow.source_path(path) for kind, path in TEMPLATES.items()},
        "notes": [notes] if notes else [],
        "data": [str(f) for f in publication.part_files(Path(PUBLISHED), config, published_on_disk())],
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


def snakemake_command(arguments):
    """A snakemake command on this config, as READMEs and messages quote it: ``arguments`` (targets
    first) and then the config files, since --configfile takes every name after it for a config file."""
    configfiles = " ".join(os.path.relpath(f) for f in workflow.overwrite_configfiles)
    return f"snakemake {arguments}" + (f" --configfile {configfiles}" if configfiles else "")


def publish_command(target):
    """The command that builds a publishing target, as the published READMEs quote it."""
    return snakemake_command(f"{target} --cores 2")


def compared(comparison):
    """The experiments of a comparison, the baseline first."""
    spec = config["remedy_comparisons"][comparison]
    return [spec["baseline"], *spec["remedies"]]


def remedy_runs(comparison):
    """Every run of a comparison on its dataset, as wildcard dicts, the baseline's first."""
    dataset = config["remedy_comparisons"][comparison]["dataset"]
    return [run for experiment in compared(comparison) for run in configuration.runs(config, experiment, [dataset])]


def remedy_files(comparison, name):
    """A file of every run of a comparison (summary.json, sharpness.json...), in remedy_runs' order."""
    return [f"{RUN.format(**run)}/{name}" for run in remedy_runs(comparison)]


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


# A comparison's outputs: every run's numbers, the table of their means, the figure, the report and its numbers
REMEDY_OUTPUTS = {
    "runs_csv": "_runs.csv",
    "csv": ".csv",
    "md": ".md",
    "pdf": ".pdf",
    "png": ".png",
    "comparison_md": "_comparison.md",
    "comparison_csv": "_comparison.csv",
    "effects_csv": "_effects.csv",
    "summary_csv": "_summary.csv",
}


def remedy_outputs(comparison="{comparison}"):
    """A comparison's outputs by key (REMEDY_OUTPUTS); by default the rule's wildcard pattern."""
    return {key: f"{REMEDIES.format(comparison=comparison)}{suffix}" for key, suffix in REMEDY_OUTPUTS.items()}


def remedy_artifacts():
    """The outputs of every remedy comparison (none unless the config has remedy_comparisons)."""
    return [path for c in config["remedy_comparisons"] for path in remedy_outputs(c).values()]


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


def job_images(wildcards):
    """The images a job takes at once: its run's batch size, or a probe's number of images."""
    probe = getattr(wildcards, "probe", configuration.BATCH_PROBE)
    return configuration.probe_images(config, probe, wildcards.batch_size)


def job_resource(stage, key):
    """A cluster resource of a ``stage`` job (stage: a rule's name; see resources.job_resources), as Snakemake calls it."""

    def value(wildcards, attempt):
        estimates = resources.job_resources(
            config, wildcards.experiment, wildcards.dataset, job_images(wildcards), attempt, SHAPES, ACTIVATION_SIZES
        )
        return estimates[stage][key]

    return value


def job_group(stage):
    """The group of a ``stage`` job on a cluster (stage: a rule's name); short jobs of a model share submissions
    (resources.job_group; the profile says how many per submission).  Ignored in local runs."""

    def group(wildcards):
        return resources.job_group(
            config,
            stage,
            wildcards.experiment,
            wildcards.dataset,
            job_images(wildcards),
            shapes=SHAPES,
            activations=ACTIVATION_SIZES,
        )

    return group


def wants_gpu(job):
    return job.resources.get("gpu", 0) > 0


onstart:
    # device: cuda, and jobs that ask for a GPU are to run on this machine (not on a cluster's nodes):
    # without a GPU here each would fail, so stop before any starts (onstart: not on a dry run)
    if config["device"] == "cuda" and workflow.local_exec and workflow.is_main_process:
        if any(wants_gpu(job) for job in workflow.dag.needrun_jobs()):
            from rankgap import device  # torch: only such a run needs it

            device.require_gpu()


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


def results_message():
    """Where the config's results are, and the commands that list its runs and gather its report:
    the last lines of a successful run."""
    where = [
        f"tables in results/tables/ ({', '.join(config['tables'])})" if config["tables"] else "",
        f"figures in results/figures/ ({', '.join(config['figures'])})" if config["figures"] else "",
        f"the comparison with the paper in {COMPARISON}.md" if config["tables"] or config["figures"] else "",
        (
            f"the remedy comparisons in {REMEDIES.format(comparison='')} ({', '.join(config['remedy_comparisons'])})"
            if config["remedy_comparisons"]
            else ""
        ),
        f"the publication in {PUBLISHED}/" if config["publish"] else "",
    ]
    return (
        f"Config '{config['name']}': {'; '.join(w for w in where if w) or 'nothing gathered'}. "
        f"`{snakemake_command('runs --cores 2')}` lists every run ({REPORT}/runs.md); "
        f"`{snakemake_command('--report report.html')}` gathers them in one page."
    )
