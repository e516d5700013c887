"""The code hash each rule carries: the package modules its script reaches through imports, and
nothing else, read from the checkout it is given."""

import pytest

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
