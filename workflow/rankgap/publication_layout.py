"""A published reproduction: the small, committed record of one config's results beside the paper's.

The folder (``publish.folder`` in the config, e.g. ``reproduction/fashion_mnist``) holds one
subfolder per part: a table of the paper, or a remedy comparison.  Publishing takes two steps, each
file written by one rule:

1. **A part's data** (``<part>/data/``), copied from what the pipeline wrote under results/
   (part_data.py, with the provenance of publication_provenance.py).
   ``publish_table``: the table (CSV and markdown), every run it averages (``runs.csv``), its
   comparison with the paper as rule ``table_comparison`` wrote it (every number, every trend, the
   losses), its figures (PNG), its summary row, the config and the provenance.
   ``publish_comparison``: a remedy comparison's outputs, the config and the provenance.  Both
   refuse runs whose settings are not what the config gives them: the config a publication copies
   is the one its runs used.
2. **The READMEs** (the folder's and each part's), rendered by ``readmes.render_readmes`` from the templates of
   workflow/templates/ and the config's notes template, with the data of step 1 as their only
   numbers: every figure in a README follows from the CSVs beside it, and a clean clone rebuilds
   every README without training anything.

This module is the folder's layout, which both steps share: the parts of a publication, and the
data files the READMEs are rendered from.  The READMEs read a part through readme_parts.py.
"""

from __future__ import annotations

from pathlib import Path

DATA = "data"  # a part's data folder, beside its README
# a table part's files, by what they hold (the table's own two are named after it)
TABLE_FILES = {
    "numbers": "paper_comparison.csv",
    "trends": "paper_comparison_trends.csv",
    "losses": "loss_evidence.csv",
    "runs": "runs.csv",
}


def parts_of(config: dict) -> dict[str, str]:
    """Every part of a publication, by name: 'table' or 'comparison'."""
    return {**dict.fromkeys(config["tables"], "table"), **dict.fromkeys(config["remedy_comparisons"], "comparison")}


def part_files(folder: Path, config: dict, published: list[str]) -> list[Path]:
    """The data files the READMEs are rendered from: the ``published`` parts'."""
    files = []
    for name, kind in parts_of(config).items():
        if name not in published:
            continue
        data = Path(folder) / name / DATA
        if kind == "table":
            names = [f"{name}.csv", f"{name}.md", *TABLE_FILES.values()]
        else:
            names = [f"{name}_runs.csv"]
        files += [data / n for n in [*names, "config.yaml", "provenance.json"]]
    return files
