# Paths, wildcard constraints and config checks: defined once, used by every stage.
import hashlib
import os
import re
import sys
from pathlib import Path

from snakemake.utils import validate

PACKAGE_DIR = Path(workflow.basedir) / "workflow"
# Scripts (and cluster jobs, which re-read this file) import the package from this checkout.
sys.path.insert(0, str(PACKAGE_DIR))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_DIR), os.environ.get("PYTHONPATH")]))

from rankgap import settings  # noqa: E402  (torch-free: parsing stays fast)

validate(config, "../schemas/config.schema.yaml", set_default=True)
settings.check(config)

DATASET = config["data_dir"] + "/{dataset}.safetensors"
RUN = "results/runs/{experiment}/{dataset}/bs{batch_size}-seed{seed}"
PROBE = RUN + "/epoch{epoch}"
ANALYSIS = "results/analysis/{experiment}"
TABLE = "results/tables/{table}"
FIGURE = "results/figures/{figure}"
# probe epochs other than 'last' are weight snapshots the training run writes as it goes
SNAPSHOT_EPOCHS = sorted({e for e in config["probe"]["epochs"] if e != "last"})


def _names(keys):
    return "|".join(re.escape(k) for k in keys) or "(?!)"


wildcard_constraints:
    experiment=_names(config["experiments"]),
    dataset=_names(settings.SHAPES),
    batch_size=r"\d+",
    seed=r"\d+",
    epoch=r"\d+",
    table=_names(config["tables"]),
    figure=_names(config["figures"]),


def code(*modules):
    """Content hash of the package modules a rule runs, passed as a param: editing a module reruns
    exactly the rules that use it (Snakemake tracks a rule's own script, not what it imports)."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update((PACKAGE_DIR / "rankgap" / f"{module}.py").read_bytes())
    return digest.hexdigest()[:16]


def run_settings(wildcards):
    return settings.run_settings(config, wildcards.experiment, wildcards.dataset, wildcards.batch_size, wildcards.seed)


def probes(experiment, datasets=None):
    """Every (run, probe epoch) of an experiment, as wildcard dicts."""
    return [
        dict(run, epoch=epoch)
        for run in settings.runs(config, experiment, datasets)
        for epoch in settings.probe_epochs(config, experiment)
    ]


def paper_artifacts():
    tables = [TABLE.format(table=t) + ext for t in config["tables"] for ext in (".csv", ".md", ".tex")]
    figures = [FIGURE.format(figure=f) + ext for f in config["figures"] for ext in (".pdf", ".png")]
    return tables + figures
