"""What a user needs to reuse and cite the code: a license stated alike everywhere, and a citation
file that names this software (at the package's version) and the paper it reproduces."""

import shlex
import subprocess
import sys
from importlib.metadata import metadata

import tomllib
import yaml

from conftest import REPO, copy_project

PACKAGE = metadata("rankgap")  # as pip installed it from pyproject.toml
CITATION = yaml.safe_load((REPO / "CITATION.cff").read_text())


def test_the_license_file_pyproject_and_citation_name_one_license():
    assert PACKAGE["License-Expression"] == "MIT" and PACKAGE.get_all("License-File") == ["LICENSE"]
    assert (REPO / "LICENSE").read_text().startswith("MIT License\n")
    assert CITATION["license"] == PACKAGE["License-Expression"]


def test_the_citation_cites_this_version_and_the_paper_reproduced():
    assert CITATION["cff-version"] == "1.2.0" and CITATION["type"] == "software"
    assert CITATION["version"] == PACKAGE["Version"]
    (paper,) = CITATION["references"]
    assert [a["family-names"] for a in paper["authors"]] == ["Oyedotun", "Papadopoulos", "Aouada"]
    assert paper["identifiers"] == [{"type": "other", "value": "arXiv:2210.12184"}]


def test_the_readme_ends_by_saying_how_to_cite():
    last = (REPO / "README.md").read_text().split("\n## ")[-1]
    assert last.startswith("License and citing") and "CITATION.cff" in last and "arXiv:2210.12184" in last


PIPELINE_ONLY = ["snakemake", "seaborn", "matplotlib", "sklearn", "weightwatcher", "jinja2", "tabulate"]
# as if only the lean install were there: `import seaborn` fails, find_spec("seaborn") is None
BLOCKED = f"import sys\nsys.modules.update(dict.fromkeys({PIPELINE_ONLY!r}))\n"


def lean(project, code: str) -> subprocess.CompletedProcess:
    """``code`` run in ``project`` with the pipeline extra's packages unimportable."""
    return subprocess.run([sys.executable, "-c", BLOCKED + code], cwd=project, capture_output=True, text=True)


def test_the_lean_install_measures_without_the_pipelines_packages(tmp_path):
    """What `pip install rankgap` (no extra) installs is what the measure API and its command line
    import: examples/transformer.py runs with the pipeline's packages unimportable, and the command
    line it prints measures, saying that it did not draw the figure."""
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not any(name in " ".join(declared["dependencies"]) for name in PIPELINE_ONLY)
    project = copy_project(tmp_path)
    example = lean(project, 'import runpy\nrunpy.run_path("examples/transformer.py", run_name="__main__")')
    assert example.returncode == 0, example.stderr
    arguments = shlex.split(example.stdout.strip().splitlines()[-1])[1:]  # after .venv/bin/rankgap-measure
    measured = lean(project, f"from rankgap import cli\nsys.exit(cli.main({arguments!r}))")
    assert measured.returncode == 0, measured.stderr
    assert "not drawn: plotting is in the pipeline extra" in measured.stdout
    assert (project / "measured/transformer/counts.csv").exists()
