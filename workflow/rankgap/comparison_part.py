"""A published remedy comparison as its README reads it (``ComparisonPart``, readme_parts.py): each
remedy's effect on the gap at each batch size, which measures track the gap, per-layer measures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import remedies, remedy_report
from .measures import MEASURES
from .readme_parts import Part, layer_summary
from .templates import markdown


class ComparisonPart(Part):
    """A remedy comparison's published data, for the templates: the comparison taken anew from its
    runs' numbers (``<name>_runs.csv``) by the remedies module, so that what the README says follows
    from that file whatever code published it; measures the runs lack are left out."""

    @property
    def spec(self) -> dict:
        return self.config["remedy_comparisons"][self.name]

    @property
    def caption(self) -> str:
        return self.spec["caption"]  # configuration.fill gives every comparison one

    @property
    def table(self) -> pd.DataFrame:
        return remedies.conditions(pd.read_csv(self.folder / f"{self.name}_runs.csv"), self.spec["baseline"])

    @property
    def measures(self) -> pd.DataFrame:
        return remedies.gap_correlations(self.table)

    @property
    def effects(self) -> pd.DataFrame:
        return remedies.effects(self.table)

    @property
    def summary(self) -> dict:
        return remedy_report.summary_row(self.table, self.measures, self.effects)

    @property
    def runs(self) -> pd.DataFrame:
        return pd.read_csv(self.folder / f"{self.name}_runs.csv")

    def at(self, column: str, remedy: str, batch: int) -> float:
        """A condition's mean over seeds (``remedy``: 'baseline' or a remedy's experiment)."""
        table = self.table
        return float(table.loc[(table["remedy"] == remedy) & (table["batch_size"] == batch), column].iloc[0])

    def seed_values(self, column: str, experiment: str, batch: int) -> list[float]:
        """A condition's runs, seed by seed."""
        runs = self.runs
        return runs.loc[(runs["experiment"] == experiment) & (runs["batch_size"] == batch), column].tolist()

    def across(self, column: str, batch: int) -> dict[str, float]:
        """A column at one batch size, condition by condition."""
        table = self.table[self.table["batch_size"] == batch]
        return dict(zip(table["remedy"], table[column].astype(float)))

    @property
    def narrowing(self) -> list[str]:
        """The remedies whose verdict is that the gap narrows."""
        effects = self.effects
        return effects.loc[effects["verdict"].str.contains(remedies.NARROWS), "remedy"].tolist()

    def effect(self, remedy: str, column: str) -> float:
        effects = self.effects
        return float(effects.loc[effects["remedy"] == remedy, column].iloc[0])

    def verdict(self, remedy: str) -> str:
        effects = self.effects
        return effects.loc[effects["remedy"] == remedy, "verdict"].iloc[0]

    def measure(self, name: str, column: str):
        measures = self.measures
        return measures.loc[measures["measure"] == name, column].iloc[0]

    def spread(self, batch: int) -> float:
        """The run-to-run sd of the test error at a batch size, pooled over the conditions."""
        return float(remedies.spreads(self.table).at[batch, "sd"])

    @property
    def batch_sizes(self) -> list[int]:
        return sorted(self.table["batch_size"].unique())

    @property
    def has_measures(self) -> bool:
        return (self.folder / "measures.csv").exists()

    def layers(self, measure: str = "effective_rank", batch: int | None = None) -> str:
        """``layer_summary`` on the fixed probe at the last epoch: every condition at ``batch``
        (default the large batch size), the baseline at the small one, and the untrained network."""
        measured = pd.read_csv(self.folder / "measures.csv")
        measured = measured[measured["probe"] == self.config["probe"]["fixed_splits"][0]]
        last = measured["epoch"] == measured.groupby(["experiment", "batch_size", "seed"])["epoch"].transform("max")
        small, large = self.batch_sizes[0], batch or self.batch_sizes[-1]
        baseline = self.spec["baseline"]
        columns = {
            f"baseline, {small}": (measured["experiment"] == baseline) & (measured["batch_size"] == small) & last
        }
        for experiment in [baseline, *self.spec["remedies"]]:
            name = "baseline" if experiment == baseline else experiment
            columns[f"{name}, {large}"] = (
                (measured["experiment"] == experiment) & (measured["batch_size"] == large) & last
            )
        columns["untrained"] = (
            (measured["experiment"] == baseline) & (measured["batch_size"] == small) & (measured["epoch"] == 0)
        )
        return layer_summary(measured, columns, measure, self.spec["threshold"])

    @property
    def best(self) -> pd.DataFrame:
        return remedies.best(self.measures)

    @property
    def missing_measures(self) -> list[str]:
        return [MEASURES[m].label for m in remedies.EXPLANATORY if m not in set(self.measures["measure"])]

    def report(self, template: Path) -> str:
        """The comparison's report (``template``: remedy_report.comparison_text's), under the README's own title."""
        text = remedy_report.comparison_text(
            template, self.table, self.measures, self.effects, self.caption, self.spec["dataset"]
        )
        return "\n".join(_demoted(text.split("\n", 1)[1]))  # under the README's own title

    @property
    def table_markdown(self) -> str:
        return markdown(remedy_report.formatted_table(self.table), disable_numparse=True)


def _demoted(markdown_text: str) -> list[str]:
    """A markdown document's lines with its headings one level down (code blocks left alone)."""
    lines, in_code = [], False
    for line in markdown_text.strip().splitlines():
        in_code ^= line.startswith("```")
        lines.append("#" + line if line.startswith("#") and not in_code else line)
    return lines
