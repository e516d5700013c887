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


def table_run_wildcards(table):
    """A table's runs, as wildcard dicts, the baseline run (Table 11) first."""
    spec = config["tables"][table]
    runs = configuration.runs(config, spec["experiment"], [spec["dataset"]])
    if "baseline" in spec:
        baseline = configuration.runs(config, spec["baseline"]["experiment"], [spec["dataset"]])
        runs = [r for r in baseline if r["batch_size"] == spec["baseline"]["batch_size"]] + runs
    return runs


def run_records(runs):
    """Per run (wildcard dicts): its wildcards and its summary."""
    return [{"wildcards": run, "summary": f"{RUN.format(**run)}/summary.json"} for run in runs]


TEMPLATES = {  # inputs of the rules that render, resolved relative to this file (workflow.source_path)
    kind: workflow.source_path(f"../templates/{kind}.md.j2")
    for kind in ("index", "table", "comparison", "provenance", "remedy_comparison")
}


def snakemake_command(arguments):
    """A snakemake command on this config, as READMEs and messages quote it: ``arguments`` (targets
    first) and then the config files, since --configfile takes every name after it for a config file."""
    configfiles = " ".join(os.path.relpath(f) for f in workflow.overwrite_configfiles)
    return f"snakemake {arguments}" + (f" --configfile {configfiles}" if configfiles else "")


def compared(comparison):
    """The experiments of a comparison, the baseline first."""
    spec = config["remedy_comparisons"][comparison]
    return [spec["baseline"], *spec["remedies"]]


def remedy_runs(comparison):
    """Every run of a comparison on its dataset, as wildcard dicts, the baseline's first."""
    dataset = config["remedy_comparisons"][comparison]["dataset"]
    return [run for experiment in compared(comparison) for run in configuration.runs(config, experiment, [dataset])]


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
