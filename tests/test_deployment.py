"""The workflow deployed as Snakemake users deploy it: run from another folder (`--directory`), and
included as a module of another workflow (what snakedeploy writes), every job importing the package
of the checkout it runs (not one installed elsewhere: the venv's is this repository's)."""

import os
import re
import sys

import pandas as pd
import pytest

from conftest import REPO, copy_project, snakemake

# appended to a copy's package: every import of that copy (the workflow's, each job's) names itself
RECORD_IMPORT = """
import os as _os

if _os.environ.get("RANKGAP_IMPORTS"):
    with open(_os.environ["RANKGAP_IMPORTS"], "a") as _log:
        _log.write(__file__ + " " + _os.environ.get("CONDA_PREFIX", "") + "\\n")
"""


@pytest.fixture
def marked(tmp_path, monkeypatch):
    """A copy of the project whose package records every import of itself in ``imports.log``."""
    project = copy_project(tmp_path / "rankgap")
    with open(project / "workflow/rankgap/__init__.py", "a") as init:
        init.write(RECORD_IMPORT)
    log = tmp_path / "imports.log"
    monkeypatch.setenv("RANKGAP_IMPORTS", str(log))
    return project, log


def imports(log) -> list[str]:
    """The package each import took, one per import (the workflow's, each job's)."""
    return [line.split(" ")[0] for line in log.read_text().splitlines()] if log.exists() else []


def test_a_job_imports_the_package_of_the_checkout_it_runs(marked):
    """The venv has this repository's package installed; a copy's workflow and jobs import the copy's."""
    project, log = marked
    snakemake(project, "data/digits.safetensors", "--configfile", "config/demo.yaml")
    mine = str(project / "workflow/rankgap/__init__.py")
    # the workflow as it parses, and the dataset job's script (a Python of its own)
    assert imports(log).count(mine) >= 2 and set(imports(log)) == {mine}


def test_a_run_in_another_folder_writes_there(marked, tmp_path):
    project, log = marked
    elsewhere = tmp_path / "elsewhere"
    # docs/deployment.md's command, from the checkout
    snakemake(project, "data/digits.safetensors", "--directory", "../elsewhere", "--configfile", "config/demo.yaml")
    assert (elsewhere / "data/digits.safetensors").is_file() and not (project / "data").exists()
    assert set(imports(log)) == {str(project / "workflow/rankgap/__init__.py")}


def module_snakefile() -> str:
    """docs/deployment.md's module Snakefile, as a user copies it."""
    text = (REPO / "docs/deployment.md").read_text()
    return re.search(r"```python\n(configfile:.*?)```", text, re.DOTALL).group(1)


@pytest.mark.slow
def test_the_demo_runs_as_a_module_of_another_workflow(marked, tmp_path):
    """docs/deployment.md's module Snakefile, in a project of its own with the demo's config: the
    demo end to end, its results in that project."""
    project, log = marked
    mine = tmp_path / "my_project"
    (mine / "config").mkdir(parents=True)
    (mine / "config/rankgap.yaml").write_text((project / "config/demo.yaml").read_text())
    (mine / "Snakefile").write_text(module_snakefile())  # the checkout beside the project: ../rankgap
    snakemake(mine, "all")
    table = pd.read_csv(mine / "results/tables/demo_bn.csv")
    assert (table["status"] == "ok").all()
    assert (mine / "results/figures/demo_bn.png").read_bytes().startswith(b"\x89PNG")
    assert not (project / "results").exists()
    assert set(imports(log)) == {str(project / "workflow/rankgap/__init__.py")}


# conda as Snakemake's deployment code calls it (snakemake/deployment/conda.py: its version, its info,
# its channel priority, `conda env create --file F --prefix P`, `conda clean`), without channels: an
# environment is a prefix whose python is the test's interpreter, which has the packages the
# environment lists; activation puts it first on PATH as conda's activate does.
FAKE_CONDA = """#!/usr/bin/env bash
set -euo pipefail
base="$(cd "$(dirname "$0")/.." && pwd)"
case "$*" in
  "--version") echo "conda 24.7.1" ;;
  "info --json") printf '{"conda_prefix": "%s", "platform": "linux-64"}\\n' "$base" ;;
  "config --get channel_priority --json") echo '{"get": {"channel_priority": "strict"}}' ;;
  env\\ create*)
    prefix=$(sed -E 's/.*--prefix "?([^" ]+)"?.*/\\1/' <<< "$*")
    mkdir -p "$prefix/bin"
    ln -s "$FAKE_CONDA_PYTHON" "$prefix/bin/python" ;;
  clean\\ *) ;;
  *) echo "fake conda: $* is not supported" >&2; exit 1 ;;
esac
"""
FAKE_ACTIVATE = """export PATH="$1/bin:$PATH"
export CONDA_PREFIX="$1"
"""


def test_a_job_in_an_environment_snakemake_deployed_imports_the_checkouts_package(marked, tmp_path, monkeypatch):
    """--sdm conda: Snakemake's own code creates the environment under .snakemake/conda/ (no
    post-deploy step) and runs the job's script in it; the script imports the checkout's package."""
    project, log = marked
    bin_dir = tmp_path / "conda" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "conda").write_text(FAKE_CONDA)
    (bin_dir / "conda").chmod(0o755)
    (bin_dir / "activate").write_text(FAKE_ACTIVATE)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CONDA_PYTHON", sys.executable)
    result = snakemake(project, "data/digits.safetensors", "--sdm", "conda", "--configfile", "config/demo.yaml")
    assert "Activating conda environment: .snakemake/conda/" in result.stdout + result.stderr
    (environment,) = [p for p in (project / ".snakemake/conda").iterdir() if p.is_dir()]
    assert (project / ".snakemake/conda" / f"{environment.name}.yaml").read_text() == (
        project / "envs/train.yaml"
    ).read_text()  # the dataset rule's environment, as Snakemake deployed it
    records = [line.split(" ") for line in log.read_text().splitlines()]  # package, CONDA_PREFIX
    in_environment = [r for r in records if r[1].startswith(str(project / ".snakemake/conda"))]
    assert in_environment == [[str(project / "workflow/rankgap/__init__.py"), str(environment)]]
