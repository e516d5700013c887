"""The workflow deployed as Snakemake users deploy it: run from another folder (`--directory`), and
included as a module of another workflow (what snakedeploy writes), every job importing the package
of the checkout it runs (not one installed elsewhere: the venv's is this repository's)."""

import re

import pandas as pd
import pytest

from conftest import REPO, copy_project, snakemake

# appended to a copy's package: every import of that copy (the workflow's, each job's) names itself
RECORD_IMPORT = """
import os as _os

if _os.environ.get("RANKGAP_IMPORTS"):
    with open(_os.environ["RANKGAP_IMPORTS"], "a") as _log:
        _log.write(__file__ + "\\n")
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
    return log.read_text().splitlines() if log.exists() else []


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
