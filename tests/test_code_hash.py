"""The code hash each rule carries: the package modules its script reaches through imports, and
nothing else, read from the checkout it is given."""

import shutil

import pytest

from conftest import copy_project, snakemake
from rankgap import code_hash


@pytest.fixture
def checkout(tmp_path):
    """A package with modules reached directly, through one another and only lazily, and a script."""
    package = tmp_path / "rankgap"
    package.mkdir()
    (package / "__init__.py").write_text('"""the package"""\n')
    (package / "a.py").write_text("from . import b\nfrom .c import thing\n")
    (package / "b.py").write_text("import numpy\n")
    (package / "c.py").write_text("thing = 1\n")
    (package / "lazy.py").write_text("import importlib\nimportlib.import_module('rankgap.unreached')\n")
    (package / "unreached.py").write_text("x = 1\n")
    (package / "inner.py").write_text("y = 2\n")
    script = tmp_path / "script.py"
    script.write_text("from rankgap import a, log_to\n\ndef later():\n    import rankgap.inner\n")
    return package, script


def test_a_script_reaches_its_imports_and_theirs_and_the_init(checkout):
    package, script = checkout
    reached = {path.name for path in code_hash.modules_reached(script, package)}
    assert reached == {"__init__.py", "a.py", "b.py", "c.py", "inner.py"}  # `log_to` names no module


@pytest.mark.parametrize("edited, changes", [("b.py", True), ("inner.py", True), ("unreached.py", False)])
def test_the_hash_changes_exactly_when_a_reached_module_does(checkout, edited, changes):
    package, script = checkout
    before = code_hash.of_script(script, package)
    (package / edited).write_text((package / edited).read_text() + "# an edit\n")
    assert (code_hash.of_script(script, package) != before) == changes


def test_two_copies_of_a_package_hash_alike_until_one_is_edited(checkout, tmp_path):
    package, _ = checkout
    copy = shutil.copytree(package, tmp_path / "copy" / "rankgap")
    assert code_hash.of_directory(copy) == code_hash.of_directory(package)
    (copy / "unreached.py").write_text("x = 2\n")
    assert code_hash.of_directory(copy) != code_hash.of_directory(package)


def test_a_checkout_whose_package_is_not_the_installed_one_says_so(tmp_path):
    """The Snakefile imports the installed package; a checkout whose own differs (another clone run
    with this one's installation) warns at start, naming both, since its jobs would run the other."""
    project = copy_project(tmp_path)
    same = snakemake(project, "--dry-run", "--configfile", "config/demo.yaml")
    assert "is not this checkout's" not in same.stdout + same.stderr
    module = project / "workflow/rankgap/rank.py"
    module.write_text(module.read_text() + "# an edit\n")
    edited = snakemake(project, "--dry-run", "--configfile", "config/demo.yaml")
    warning = f"is not this checkout's ({project / 'workflow/rankgap'}): jobs run the installed one"
    assert warning in edited.stdout + edited.stderr
