"""The conda environments of envs/ (`--sdm conda`): each lists what the jobs that use it import (the
rankgap package itself is the checkout's, on every job's PYTHONPATH: tests/test_deployment.py).
Conda itself cannot run here (conda-forge is out of reach), so the environments are checked from
their files."""

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from rankgap import code_hash

RULES = REPO / "workflow" / "rules"
PACKAGE = REPO / "workflow" / "rankgap"
ENVS = sorted((REPO / "envs").glob("*.yaml"))
# import name -> the package an environment lists, where they differ
DISTRIBUTIONS = {"PIL": "pillow", "sklearn": "scikit-learn", "yaml": "pyyaml"}
# provided to every job's script by Snakemake's preamble, or Python's own
PROVIDED = {"snakemake", "rankgap", "__future__", *sys.stdlib_module_names}


def rule_environments() -> dict[str, tuple[Path, Path]]:
    """Every rule with a conda environment and a script: rule -> (environment file, script)."""
    found = {}
    for smk in RULES.glob("*.smk"):
        for block in re.split(r"\n(?=rule \w+:)", smk.read_text()):
            name = re.match(r"rule (\w+):", block)
            env = re.search(r'conda:\s*\n\s*"([^"]+)"', block)
            script = re.search(r'script:\s*\n\s*"([^"]+)"', block)
            if name and env and script:
                found[name.group(1)] = ((RULES / env.group(1)).resolve(), (RULES / script.group(1)).resolve())
    return found


def imported_packages(script: Path) -> set[str]:
    """The packages a script and the rankgap modules it reaches import, wherever in a file the import
    stands: one inside a function runs too when the job calls it (configuration's yaml does)."""
    names = set()
    for module in {script} | code_hash.modules_reached(script, PACKAGE):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names.add(node.module.partition(".")[0])
    return {DISTRIBUTIONS.get(name, name) for name in names - PROVIDED}


def listed_packages(environment: Path) -> set[str]:
    """The packages an environment file lists, conda's and pip's, without versions."""
    listed = set()
    for entry in yaml.safe_load(environment.read_text())["dependencies"]:
        for spec in entry["pip"] if isinstance(entry, dict) else [entry]:
            listed.add(re.split(r"[=<>!~ \[]", spec, maxsplit=1)[0].lower())
    return listed


def test_every_rule_with_a_script_runs_in_an_environment_of_envs():
    environments = rule_environments()
    assert {"train", "probe", "spectra", "rankloss", "table", "publish"} <= environments.keys()
    assert {env for env, _ in environments.values()} == set(ENVS)


@pytest.mark.parametrize("rule", sorted(rule_environments()))
def test_an_environment_lists_every_package_its_rules_import(rule):
    environment, script = rule_environments()[rule]
    missing = imported_packages(script) - listed_packages(environment)
    assert not missing, f"rule {rule} imports {sorted(missing)}, which {environment.name} does not list"
