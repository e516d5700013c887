"""The conda environments of envs/ (`--sdm conda`): each lists what the jobs that use it import, and
installs the rankgap package after deployment.  Conda itself cannot run here (conda-forge is out of
reach), so the environments are checked from their files, and the post-deploy scripts in a venv."""

import ast
import re
import subprocess
import sys
import venv
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


@pytest.mark.parametrize("environment", ENVS, ids=lambda path: path.stem)
def test_the_post_deploy_script_installs_this_checkouts_package(tmp_path, environment):
    """Snakemake runs <env>.post-deploy.sh inside the environment it has just built; a venv stands in
    for it.  Afterwards the package imports from this checkout, as every job's script needs."""
    script = environment.with_name(f"{environment.stem}.post-deploy.sh")
    assert script.is_file(), f"{environment.name} has no post-deploy script beside it"
    env = tmp_path / "env"
    venv.create(env, with_pip=True)
    path = f"{env / 'bin'}:/usr/bin:/bin"
    subprocess.run(["bash", str(script)], check=True, capture_output=True, env={"PATH": path, "HOME": str(tmp_path)})
    where = subprocess.run(
        [env / "bin" / "python", "-c", "import rankgap; print(rankgap.__file__)"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert Path(where) == PACKAGE / "__init__.py"
