"""Every command the documents show runs as written.

The `snakemake …` and `rankgap-…` commands of README.md, docs/*.md, the published READMEs under
reproduction/, examples/ and the configs are collected from their code blocks and inline code
(and, in configs and scripts, from comment lines), so a command added to a document later is
covered without editing this test. Each runs in a scratch copy of the project: Snakemake's as a
dry run (`--dry-run` appended; RUN_FOR_REAL says which run for real, and where), the console
scripts with `--help` appended after their arguments are parsed. A traceback or an argument error
fails the test, naming the file and the command.
"""

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, copy_project
from rankgap import cli

DOCUMENTS = sorted(
    [REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "reproduction").rglob("README.md")]
    + [p for p in (REPO / "examples").iterdir() if p.suffix in (".md", ".yaml", ".py")]
    + [*(REPO / "config").glob("*.yaml"), REPO / "config.yaml"]
)
PROGRAMS = re.compile(r"^(?:\S*/)?(snakemake|rankgap-[a-z-]+)(?=\s|$)")
# Names a document uses for "your own": the test gives each a real one (a published part: the
# first of the folder before it).
PLACEHOLDERS = {"CONFIG": "config/demo.yaml"}
PART = re.compile(r"(\S+)/<(?:part|table|comparison)>")
# Snakemake commands that do something other than plan jobs, so run for real: --unlock removes a
# lock; --report is made of results, so it runs where its config has been built (the conftest
# fixtures `quick_start` for the demo's, `smoke` otherwise, with that config when the command names none).
RUN_FOR_REAL = ("--unlock", "--report")


def snippets(path: Path) -> list[str]:
    """The code of a document: its fenced code blocks' lines (continuations joined) and its inline
    code spans; in a config or a script, its comment lines."""
    text = path.read_text()
    if path.suffix != ".md":  # a comment's inline code, or the whole comment
        comments = [line.split("#", 1)[1].strip() for line in text.splitlines() if "#" in line]
        return [code for comment in comments for code in (re.findall(r"`([^`]+)`", comment) or [comment])]
    found, block, prose = [], None, []
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            block = [] if block is None else found.extend(_joined(block)) or None
        elif block is not None:
            block.append(line)
        else:
            prose.append(line)
    for paragraph in "\n".join(prose).split("\n\n"):  # an inline span may wrap onto the next line
        found.extend(re.findall(r"`([^`]+)`", " ".join(paragraph.split())))
    return found


def _joined(lines: list[str]) -> list[str]:
    """Lines with their backslash continuations joined."""
    joined = []
    for line in lines:
        if joined and joined[-1].endswith("\\"):
            joined[-1] = joined[-1][:-1] + " " + line.strip()
        else:
            joined.append(line.strip())
    return joined


def commands(path: Path) -> list[str]:
    """The snakemake and rankgap commands of a document, as a reader would type them (comments and
    the other commands of a `&&` chain left out)."""
    found = []
    for snippet in snippets(path):
        for part in re.split(r"&&|;|\|", snippet):
            part = part.split(" #")[0].strip()
            if PROGRAMS.match(part):
                found.append(part)
    return list(dict.fromkeys(found))


DOCUMENTED = [(path, command) for path in DOCUMENTS for command in commands(path)]


def test_the_documents_show_commands():
    """The collection finds what is there: the usage line of README.md among them."""
    readme = commands(REPO / "README.md")
    assert any(c.startswith("snakemake") and "results/figures/fig3.pdf" in c for c in readme)
    assert len(DOCUMENTED) >= 20


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A copy of the project with the published reproductions and the example's dataset, as a reader
    has them after the Quick start and examples/README.md."""
    project = copy_project(tmp_path_factory.mktemp("documented"))
    for folder in ("reproduction", "docs"):  # the published parts, and the notes that head them
        shutil.copytree(REPO / folder, project / folder)
    subprocess.run([sys.executable, "examples/make_dataset.py"], cwd=project, check=True, capture_output=True)
    return project


def argv(command: str) -> list[str]:
    """The command's words, placeholders replaced."""

    def part(match):
        parts = sorted(p.parent.name for p in (REPO / match[1]).glob("*/README.md"))
        return f"{match[1]}/{parts[0]}"

    return [PART.sub(part, PLACEHOLDERS.get(word, word)) for word in shlex.split(command)]


@pytest.mark.parametrize(
    "document, command",
    DOCUMENTED,
    ids=[f"{path.relative_to(REPO)}: {command}" for path, command in DOCUMENTED],
)
def test_a_documented_command_runs_as_written(scratch, request, document, command):
    program, *args = argv(command)
    program = Path(program).name
    where = f"{document.relative_to(REPO)}: `{command}`"
    cwd = scratch
    if program == "snakemake":
        run = [sys.executable, "-m", "snakemake", *args]
        if "--report" in args:  # where the config it names has been built: the demo's, or the smoke's
            cwd = request.getfixturevalue("quick_start" if "config/demo.yaml" in args else "smoke")
            run += [] if "--configfile" in args else ["--configfile", "config/smoke.yaml"]
        elif not any(flag in args for flag in RUN_FOR_REAL):
            run.append("--dry-run")
    else:  # a console script: its arguments parsed (a bare name is a mention), then --help run
        try:
            if args and "--help" not in args:
                cli.parser().parse_args(args)
        except SystemExit:
            pytest.fail(f"{where}: {program} rejects its arguments")
        run = [str(Path(sys.executable).parent / program), *args, "--help"]
    result = subprocess.run(run, cwd=cwd, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Traceback" not in output, f"{where} fails:\n{output[-3000:]}"
    if "--report" in args:
        assert (cwd / args[args.index("--report") + 1]).stat().st_size > 0, f"{where} wrote no report"
