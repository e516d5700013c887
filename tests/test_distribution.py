"""What a user needs to reuse and cite the code: a license stated alike everywhere, and a citation
file that names this software (at the package's version) and the paper it reproduces."""

from importlib.metadata import metadata

import yaml

from conftest import REPO

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
