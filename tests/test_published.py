"""The published reproductions: every README under reproduction/ is what `snakemake publish` renders
from the data beside it, and no template types a measured number."""

import copy
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import pandas as pd
import pytest

from conftest import REPO
from rankgap import publication_provenance, templates
from rankgap.table_part import TablePart

TEMPLATES = sorted((REPO / "workflow/templates").rglob("*.j2"))
# A measured number is a decimal or a percentage; these are not measured (none so far: batch sizes,
# thresholds written as 1e-4, table and figure numbers are integers, and integers pass).
ALLOWED = set()
JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.DOTALL)
MEASURED = re.compile(r"(?<![\w.])\d+\.\d+%?|(?<![\w.])\d+\s?%")


def literal_numbers(template: str) -> list[str]:
    """The decimals and percentages a template's own text holds (its fields left out)."""
    return [n for n in MEASURED.findall(JINJA.sub(" ", template)) if n not in ALLOWED]


def test_the_literal_check_finds_a_typed_number():
    assert literal_numbers("the gap is {{ part.gap | num }} points") == []
    assert literal_numbers("5.5 to 6.1 points above, 16.86% at 8192, about 3 %") == ["5.5", "6.1", "16.86%", "3 %"]
    assert literal_numbers("{{ x | num('.2f') }}% at batch 8192, threshold 1e-4, Table 11") == []


@pytest.mark.parametrize("template", TEMPLATES, ids=[str(t.relative_to(REPO)) for t in TEMPLATES])
def test_no_template_types_a_measured_number(template):
    found = literal_numbers(template.read_text())
    assert not found, f"{template.relative_to(REPO)} types {found}: make each a field filled from the data"


PUBLISHED = sorted(p.parent for p in (REPO / "reproduction").glob("*/README.md"))


def readme_command(folder: Path) -> list[str]:
    """The command the folder's README says renders it, as written."""
    text = (folder / "README.md").read_text()
    command = re.search(r"rendered by `(snakemake publish[^`]*)`", text)
    assert command, f"{folder}/README.md names no command that renders it"
    return shlex.split(command.group(1))


@pytest.mark.parametrize("folder", PUBLISHED, ids=[p.name for p in PUBLISHED])
def test_every_published_readme_is_what_the_data_beside_it_render(folder, tmp_path):
    """In a clone of the repository (no results/; the README says which commit's code rendered it,
    the same in every clone), the command each published README quotes renders every README under
    its folder again, byte for byte, and trains nothing."""
    project = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(project)], check=True)
    shutil.rmtree(project / "reproduction")
    shutil.copytree(REPO / "reproduction", project / "reproduction")  # every publication: one reads another's
    readmes = {path.relative_to(REPO): path.read_text() for path in folder.rglob("README.md")}
    for path in readmes:
        (project / path).unlink()
    command = readme_command(folder)
    result = subprocess.run([sys.executable, "-m", *command], cwd=project, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "localrule publish:" in result.stdout + result.stderr and "rule train:" not in result.stdout
    for path, text in readmes.items():
        assert (project / path).read_text() == text, f"{path} is not what `{shlex.join(command)}` renders"


def test_a_published_table_shows_a_missing_value_as_n_a():
    """A table cell with nothing to show (no trend of that measure, no comparable run) says n/a, not
    pandas' nan: the READMEs are read by people."""
    readmes = sorted((REPO / "reproduction").rglob("README.md"))
    assert readmes
    for path in readmes:
        cells = [
            cell.strip() for line in path.read_text().splitlines() if line.startswith("|") for cell in line.split("|")
        ]
        assert "nan" not in cells, f"{path.relative_to(REPO)} shows nan in a table"


def test_a_field_a_part_did_not_record_says_not_recorded(tmp_path):
    """Provenance published before a field existed (the dataset's checksum, the machine, the probes'
    commits) says "not recorded" in the README: never a line left out."""
    record = {
        "git": {"commit": "a5ba9d4", "dirty": False, "diff": None},
        "published": "2026-11-26T12:37:00+00:00",
        "runs_finished": ["2026-11-26T11:00:00+00:00", "2026-11-26T12:00:00+00:00"],
        "training": {
            "hosts": ["vm"],
            "commits": ['{"changed_during_run": false, "commit": "a5ba9d4", "dirty": false}'],
            "devices": ["NVIDIA H200"],
            "threads_per_run": [1],
            "library_versions": ["{}"],
        },
        "analysis_library_versions": {},
        "stages": [],
    }
    template = REPO / "workflow/templates/provenance.md.j2"
    part = type("Part", (), {"provenance": publication_provenance.Provenance(record), "has_measures": False})()
    text = templates.environment([template]).get_template(template.name).render(part=part, data="data", rendered_by="x")
    assert "weights" not in text  # published before its measures and weights were
    assert "- dataset file SHA-256: not recorded" in text
    assert "on a machine not recorded (host vm; device NVIDIA H200)" in text
    assert "probed at commit not recorded, on not recorded; spectra at commit not recorded" in text
    assert "one run's training took not recorded" in text


def test_a_mistyped_provenance_field_fails_with_jinjas_message_and_a_copy_is_a_copy():
    """A template's field the provenance does not have is Jinja's error naming it (the environment
    is strict), not a KeyError from inside the record; and the record copies like any object."""
    record = {"git": {"commit": "a5ba9d4", "dirty": False}, "training": {"devices": ["cpu"]}}
    provenance = publication_provenance.Provenance(record)
    env = templates.environment([REPO / "workflow/templates/provenance.md.j2"])  # the READMEs' own settings
    assert env.from_string("{{ provenance.git.commit }}").render(provenance=provenance) == "a5ba9d4"
    with pytest.raises(jinja2.UndefinedError, match="has no attribute 'gti'"):
        env.from_string("{{ provenance.gti.commit }}").render(provenance=provenance)
    copied = copy.copy(provenance)
    assert copied == provenance and copied.git == record["git"]


def test_a_switch_tables_per_layer_summary_puts_its_baseline_beside_its_runs(tmp_path):
    """Table 11's per-layer table: the baseline (Table 5's 128) trained, then the switch runs from
    the smallest and the largest starting batch size, trained and untrained, each the mean ± sd of
    its seeds' values on the fixed probe (other probes left out)."""
    rows = []
    values = {("lenet5_bn", 128): 0.8, ("lenet5_switch", 4096): 0.7, ("lenet5_switch", 24576): 0.6}
    for (experiment, batch), trained in values.items():
        for seed in (0, 1):
            for epoch, fraction in ((0, 0.5), (60, trained + 0.02 * seed)):
                for probe, shift in (("train", 0.0), ("batch", 0.3)):
                    rows.append(
                        dict(
                            experiment=experiment,
                            dataset="d",
                            batch_size=batch,
                            seed=seed,
                            epoch=epoch,
                            probe=probe,
                            status="ok",
                            layer="act1",
                            depth=0,
                            mode="batch",
                            threshold=1e-4,
                            effective_rank=10.0,
                            effective_rank_fraction=fraction + shift,
                        )
                    )
    pd.DataFrame(rows).to_csv(tmp_path / "measures.csv", index=False)
    config = {
        "probe": {"fixed_splits": ["train", "test"]},
        "analysis": {"thresholds": [1e-4]},
        "experiments": {"lenet5_switch": {"switch": {"batch_size": 128, "epoch": 30}}},
        "tables": {
            "table11": {"experiment": "lenet5_switch", "baseline": {"experiment": "lenet5_bn", "batch_size": 128}}
        },
    }
    table = TablePart("table11", tmp_path, config).layers("effective_rank_fraction")
    header, _, act1, *_ = table.splitlines()
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "layer",
        "128, trained",
        "4096 → 128, trained",
        "4096 → 128, untrained",
        "24576 → 128, trained",
        "24576 → 128, untrained",
    ]
    assert [c.strip() for c in act1.strip("|").split("|")] == [
        "act1",
        "0.8100 ± 0.0141",
        "0.7100 ± 0.0141",
        "0.5000 ± 0.0000",
        "0.6100 ± 0.0141",
        "0.5000 ± 0.0000",
    ]


def test_the_notes_summarise_per_layer_every_part_with_measures():
    """A reader of the Fashion-MNIST notes finds, for every part whose measures are published, its
    per-layer summary and a link to the CSV behind it."""
    folder = REPO / "reproduction/fashion_mnist"
    measured = sorted(p.parent.parent.name for p in folder.glob("*/data/measures.csv"))
    text = (folder / "README.md").read_text()
    for part in measured:
        assert f"]({part}/data/measures.csv)" in text, f"the notes have no per-layer summary of {part}"
