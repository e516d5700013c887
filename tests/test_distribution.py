"""What a user needs to reuse and cite the code: a license stated alike everywhere, and a citation
file that names this software (at the package's version) and the paper it reproduces."""

import tomllib

import yaml

from conftest import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
CITATION = yaml.safe_load((REPO / "CITATION.cff").read_text())


def test_the_license_file_pyproject_and_citation_name_one_license():
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text().startswith("MIT License\n")
    assert CITATION["license"] == PROJECT["license"]


def test_the_citation_cites_this_version_and_the_paper_reproduced():
    assert CITATION["cff-version"] == "1.2.0" and CITATION["type"] == "software"
    assert CITATION["version"] == PROJECT["version"]
    (paper,) = CITATION["references"]
    assert [a["family-names"] for a in paper["authors"]] == ["Oyedotun", "Papadopoulos", "Aouada"]
    assert paper["identifiers"] == [{"type": "other", "value": "arXiv:2210.12184"}]


def test_the_readme_ends_by_saying_how_to_cite():
    last = (REPO / "README.md").read_text().split("\n## ")[-1]
    assert last.startswith("License and citing") and "CITATION.cff" in last and "arXiv:2210.12184" in last
