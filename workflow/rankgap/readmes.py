"""Every README of a publication (publication_layout.py, step 2), rendered from its parts' data alone:
each part's (table_part.py, comparison_part.py) and the folder's index, with the rows of its tables and the answer
to which measure tracks the gap (rule tracking's, ``Answer``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pandas as pd

from . import significance, tables, verdicts
from .comparison_part import ComparisonPart
from .measures import ALL_LAYERS
from .paper_losses import loss_summary, loss_verdicts, one_fit_per_number
from .publication_layout import DATA, parts_of
from .publication_provenance import commit_in_words
from .significance import ALPHA
from .table_part import TablePart
from .templates import environment, markdown
from .tracking import CATEGORIES


def render_readmes(
    folder: Path,
    config: dict,
    published: list[str],
    templates: dict[str, Path],
    notes: Path | None,
    commands: dict[str, str],
    rendered_by: dict | None = None,
    tracking: dict[str, Path] | None = None,
) -> dict[Path, str]:
    """Every README of a publication, by path: each ``published`` part's (``templates['table']``,
    ``['comparison']``, whose report is ``['remedy_comparison']``) and the folder's (``['index']``,
    headed by the ``notes`` template, which lists the parts not published yet), from the parts' data
    alone, and the answer to which measure tracks the gap (``tracking``: rule tracking's outputs).
    ``commands``: 'data' (a part's, with ``<part>`` for its name) and 'readme', as the READMEs quote
    them; ``rendered_by``: the last commit of the rendering code (``provenance.last_change``)."""
    folder = Path(folder)
    env = environment([*templates.values(), *([notes] if notes else [])])
    env.filters.update(index_tables=index_tables, index_comparisons=index_comparisons)
    kinds = {"table": TablePart, "comparison": ComparisonPart}
    parts = {name: kinds[kind].read(folder, name) for name, kind in parts_of(config).items() if name in published}
    tabled = [p for p in parts.values() if isinstance(p, TablePart)]
    evidence = [losses for losses in (p.csv("losses") for p in tabled) if len(losses)]  # tables the paper has
    evidence = one_fit_per_number(pd.concat(evidence)) if evidence else None
    common = {
        "config": config,
        "parts": parts,
        "commands": commands,
        "alpha": ALPHA,
        "report_template": templates["remedy_comparison"],
        "criterion": verdicts.criterion(),
        "losses_shown": tables.describe_loss(config["reported_loss"]),
        "losses": loss_summary(evidence.astype({"batch": str})) if evidence is not None else None,
        "loss_verdicts": loss_verdicts(evidence) if evidence is not None else {},
        "pending": [name for name in parts_of(config) if name not in parts],
        "rendered_by": commit_in_words(json.dumps({**(rendered_by or {}), "changed_during_run": False})),
        "plan": significance.PLAN,
        "answer": Answer.read(tracking) if tracking else None,
    }
    written = {}
    for name, part in parts.items():
        template = env.get_template(Path(templates[parts_of(config)[name]]).name)
        written[folder / name / "README.md"] = template.render(common, part=part, data=DATA)
    index = {
        "tables": tabled,
        "comparisons": [p for p in parts.values() if isinstance(p, ComparisonPart)],
        "notes": env.get_template(Path(notes).name).render(common) if notes else "",
    }
    written[folder / "README.md"] = env.get_template(Path(templates["index"]).name).render(common, **index)
    return written


@dataclasses.dataclass
class Answer:
    """Which measure tracks the gap (rule tracking's answer.csv and correlations.csv), as the index
    README tells it."""

    answer: pd.DataFrame
    correlations: pd.DataFrame
    runs_table: pd.DataFrame

    @classmethod
    def read(cls, files: dict[str, Path]):
        return cls(*(pd.read_csv(files[key]) for key in ("answer", "correlations", "runs")))

    @property
    def conditions(self) -> str:
        """What the runs span, in words: batch sizes, architectures, runs by kind."""
        runs = self.runs_table
        kinds = runs["kind"].value_counts()
        parts = [
            f"batch sizes {', '.join(map(str, sorted(runs['batch_size'].unique())))}",
            f"{runs['architecture'].nunique()} architecture{'s' if runs['architecture'].nunique() > 1 else ''} "
            "(model, variant, pooling, schedule)",
            *[f"{kinds[k]} {k} runs" for k in ("plain", "remedy", "switch") if k in kinds],
        ]
        return "; ".join(parts)

    def named(self, category: str) -> list[str]:
        """The (measure, layer) pairs of a category, in words."""
        return [_named(row) for _, row in self.answer[self.answer["category"] == category].iterrows()]

    @property
    def categories(self) -> dict[str, list[str]]:
        return {category: self.named(category) for category in CATEGORIES}

    @property
    def runs(self) -> int:
        return len(self.runs_table)

    @property
    def family(self) -> int:
        rows = self.correlations[
            (self.correlations["question"] == "held_fixed") & (self.correlations["target"] == "gap")
        ]
        return int(rows["family"].max()) if len(rows) else 0

    @property
    def sources(self) -> list[str]:
        """For each measure and layer that tracks the gap or the test error: its held-fixed rho with
        that target split by where it comes from (within a batch size; within the switch runs), in
        words, each with its runs and its p after Holm."""
        target = {CATEGORIES[0]: "gap", CATEGORIES[1]: "test_error"}
        lines = []
        for _, row in self.answer[self.answer["category"].isin(target)].iterrows():
            t = target[row["category"]]
            of = self.correlations[
                (self.correlations["measure"] == row["measure"]) & (self.correlations["layer"] == row["layer"])
            ]
            ranked = of[of["target"] == t].set_index("question")["ranked"]
            split = [
                f"{where} {_cell(row, f'{question}_{t}')} ({ranked.get(question, 0)} runs ranked)"
                for question, where in (
                    ("within_batch_size", "within a batch size"),
                    ("within_switch", "within the switch runs"),
                )
            ]
            lines.append(f"{_named(row)}: held fixed {_cell(row, f'held_fixed_{t}')}; " + "; ".join(split))
        return lines

    @property
    def table(self) -> str:
        """Per measure and layer: the category and the rho of each question, with the seeds' interval
        and the p after Holm."""
        shown = pd.DataFrame(
            {"measure": self.answer["label"], "layer": self.answer["layer"], "answer": self.answer["category"]}
        )
        for column, key in TABLE_COLUMNS.items():
            shown[column] = [_cell(row, key) for _, row in self.answer.iterrows()]
        return markdown(shown, disable_numparse=True)


# the answer table's columns of rho: heading, and question_target of tracking.categories' wide row
TABLE_COLUMNS = {
    "gap, held fixed": "held_fixed_gap",
    "test error, held fixed": "held_fixed_test_error",
    "gap, within a batch size": "within_batch_size_gap",
    "gap, within switch runs": "within_switch_gap",
    "gap, across": "across_gap",
    "test error, across": "across_test_error",
    "batch size": "batch_size_batch_size",
}


def _named(row) -> str:
    """A measure and layer of an answer row, in words."""
    return f"{row['label']} ({row['layer'] if row['layer'] != ALL_LAYERS else 'all layers'})"


def _cell(row, key: str) -> str:
    """One question's rho for a target (``key``: question_target) of an answer row, with the seeds'
    interval and the p after Holm; n/a where there was nothing to rank."""
    rho, p = row.get(f"{key}_rho", math.nan), row.get(f"{key}_p_holm", math.nan)
    if pd.isna(rho):
        return "n/a"
    low, high = row.get(f"{key}_rho_low", math.nan), row.get(f"{key}_rho_high", math.nan)
    interval = "" if pd.isna(low) else f" [{low:+.2f}, {high:+.2f}]"
    return f"{rho:+.2f}{interval}, p {p:.2g}"


def index_tables(tabled: list[TablePart]) -> str:
    """The index's row per table: its summary, linked, with the commit it was published at."""
    rows = [
        {
            **part.summary,
            "table": f"[{part.name}]({part.name}/README.md)",
            "seeds": part.seeds,
            "published at": (part.provenance.git["commit"] or "")[:10],
        }
        for part in tabled
    ]
    return markdown(pd.DataFrame(rows).fillna(""), floatfmt=".2f")


def index_comparisons(compared: list[ComparisonPart]) -> str:
    """The index's row per remedy comparison: its summary, linked."""
    rows = pd.DataFrame([{"comparison": f"[{c.name}]({c.name}/README.md)", **c.summary} for c in compared])
    for column in ("baseline gap (pp)", "near-rank loss ρ"):
        rows[column] = rows[column].map(lambda v: f"{v:+.2f}")
    return markdown(rows, disable_numparse=True)
