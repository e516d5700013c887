"""The code a rule runs, as one hash that every rule carries as a param (``code=`` in the rules).

Snakemake reruns a job when its rule's script changes, but not when a module the script imports
does; the hash closes that gap, so that editing a module reruns exactly the rules whose scripts
reach it (docs/reruns.md).

Included: every module of the package that the script reaches through ``import`` statements,
directly or through one another, wherever in a file they stand (inside a function too), and the
package's ``__init__.py`` (importing any module runs it).  Followed: ``import rankgap.x``,
``from rankgap import x``, ``from rankgap.x import y`` and, inside the package, ``from . import x``
and ``from .x import y``.

Excluded: the script itself (Snakemake tracks it); modules loaded only at run time, by
``importlib`` or the package's ``__getattr__`` (``rankgap.measure``: no rule uses the API, so an
edit of it reruns nothing); other packages (torch, pandas...); the package's data files (the
paper's reference CSVs are inputs of the rules that read them); a config's own model files
(inputs of the trainings).  The files are read from the checkout the workflow runs from, passed
in, not from wherever Python imports the package.
"""

from __future__ import annotations

import ast
import hashlib
import re
from pathlib import Path


def modules_reached(source: Path, package: Path, found: set[Path] | None = None) -> set[Path]:
    """The modules of ``package`` (the ``rankgap`` folder) that ``source`` imports, directly or
    through one another, ``__init__.py`` included when any is."""
    found = set() if found is None else found
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):  # import rankgap.x
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:  # in the package: from . import x, from .x import y
            names = (
                [f"{package.name}.{node.module}"] if node.module else [f"{package.name}.{a.name}" for a in node.names]
            )
        elif isinstance(node, ast.ImportFrom):  # from rankgap import x, from rankgap.x import y
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            top, _, rest = name.partition(".")
            if top != package.name:
                continue
            for path in (package / "__init__.py", package / f"{rest.split('.')[0]}.py"):
                if path.is_file() and path not in found:  # `from rankgap import log_to` names no module
                    found.add(path)
                    modules_reached(path, package, found)
    return found


def of_script(script: Path, package: Path) -> str:
    """The hash of the modules of ``package`` that ``script`` reaches (16 hex digits)."""
    digest = hashlib.sha256()
    for path in sorted(modules_reached(script, package)):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


RULE = re.compile(r"^rule (\w+):", re.M)
CODE = re.compile(r'code=code\("(\w+)"\)')  # how a rule takes its script's hash (common.smk's code())


def rule_scripts(workflow_dir: Path) -> dict[str, str]:
    """Each rule that carries a code hash, and the script whose reach it hashes, read from the
    rule files in the order the Snakefile includes them."""
    included = re.findall(
        r'^include: "workflow/rules/(\w+)\.smk"', (workflow_dir.parent / "Snakefile").read_text(), re.M
    )
    found = {}
    for name in included:
        text = (workflow_dir / "rules" / f"{name}.smk").read_text()
        starts = [(m.start(), m.group(1)) for m in RULE.finditer(text)] + [(len(text), "")]
        for (start, rule), (end, _) in zip(starts, starts[1:]):
            script = CODE.search(text, start, end)
            if script:
                found[rule] = script.group(1)
    return found


def rules_reached(workflow_dir: Path) -> dict[str, list[str]]:
    """Each module of the package (file name) and the rules whose code hash includes it: the rules an
    edit of it reruns, before what is built from their outputs."""
    package = workflow_dir / "rankgap"
    reach = {path.name: [] for path in sorted(package.glob("*.py"))}
    for rule, script in rule_scripts(workflow_dir).items():
        for path in modules_reached(workflow_dir / "scripts" / f"{script}.py", package):
            reach[path.name].append(rule)
    return reach


def reruns_table(workflow_dir: Path) -> str:
    """docs/reruns.md's table of modules (``python -m rankgap.code_hash`` prints it)."""
    rows = ["| you edit `workflow/rankgap/…` | the rules whose jobs rerun |", "|---|---|"]
    for module, rules in rules_reached(workflow_dir).items():
        rerun = ", ".join(f"`{rule}`" for rule in rules) or "none: no job's script reaches it"
        rows.append(f"| `{module}` | {rerun} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(reruns_table(Path(__file__).resolve().parents[1]), end="")
