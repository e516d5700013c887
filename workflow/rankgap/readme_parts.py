"""A published part as its README reads it (publication_layout.py, step 2): a table of the paper
(``TablePart``) or a remedy comparison (``ComparisonPart``), the objects the templates of
workflow/templates/ take their every number from.  Each reads the part's data folder alone, and
takes anew from it what today's code concludes (the claims' verdicts, a comparison's analysis), so
that a README follows from the CSVs beside it whatever code published them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import pandas as pd
import yaml

from . import paper, paper_comparison, remedies, remedy_report, status, tables, trends, verdicts
from .measures import MEASURES, per_layer
from .paper_losses import loss_summary
from .publication_layout import DATA, TABLE_FILES
from .publication_provenance import Provenance
from .templates import markdown


@dataclasses.dataclass
class Part:
    """A published part's data folder, the config it copied and its provenance."""

    name: str
    folder: Path
    config: dict

    @classmethod
    def read(cls, folder: Path, name: str):
        data = Path(folder) / name / DATA
        return cls(name, data, yaml.safe_load((data / "config.yaml").read_text()))

    @property
    def provenance(self) -> Provenance:
        return Provenance(json.loads((self.folder / "provenance.json").read_text()))


def layer_summary(measured: pd.DataFrame, columns: dict[str, pd.Series], measure: str, threshold: float) -> str:
    """A markdown table of one spectrum measure per layer (its modes combined) and for every layer
    together: a column per selection of runs and probe epochs (``columns``: a boolean mask over
    ``measured``'s rows, by heading), each cell the mean ± sd over the seeds selected."""
    shown = {}
    for heading, mask in columns.items():
        rows = measured[mask]
        if rows.empty:
            continue
        layers = per_layer(rows, threshold)
        values = layers.groupby(["depth", "layer"], sort=True)[measure]
        spec = MEASURES[measure].number_format
        shown[heading] = {
            layer: spec.format(mean) + ("" if pd.isna(sd) else f" ± {spec.format(sd)}")
            for (_, layer), mean, sd in zip(values.mean().index, values.mean(), values.std())
        }
    if not shown:
        return "(no measures published)"
    frame = pd.DataFrame(shown)
    frame.index.name = "layer"
    return markdown(frame.reset_index(), disable_numparse=True)


class TablePart(Part):
    """A table's published data, for the templates: its frames, and the numbers its prose quotes."""

    def csv(self, key: str) -> pd.DataFrame:
        """A data file: 'table' (the table's CSV), one of ``TABLE_FILES``, or 'trends': the claims
        judged by today's analysis plan (``claims``)."""
        if key == "trends":
            return self.claims
        return pd.read_csv(self.folder / (f"{self.name}.csv" if key == "table" else TABLE_FILES[key]))

    @functools.cached_property
    def claims(self) -> pd.DataFrame:
        """Every claim of the part, judged anew (``verdicts.judge``): its figures' as their statistics
        were published, the table's own taken from its runs (``runs_frame``) and the paper's numbers."""
        stored = trends.read_trends(self.folder / TABLE_FILES["trends"])
        figures = stored[stored["artifact"] != self.name]
        runs = self.runs_frame
        spec = self.config["tables"][self.name]
        baseline = spec.get("baseline", {}).get("batch_size")
        unswitched = (
            runs["switch"].isna() & (runs["batch_size"] != baseline) if baseline else runs["switch"].isna() & False
        )
        reference = paper.reference_tables()
        own = trends.table_claims(
            self.name,
            runs[~unswitched],
            reference[reference["table"] == paper.paper_table(self.name)],
            runs[unswitched],
        )
        table = verdicts.judge(pd.DataFrame(own, columns=trends.TREND_COLUMNS))
        return pd.concat([table, figures], ignore_index=True)

    @functools.cached_property
    def runs_frame(self) -> pd.DataFrame:
        """runs.csv as ``tables.read_summaries`` gives runs: the row's batch label, the switch as a
        mapping; finished runs only."""
        runs = pd.read_csv(self.folder / TABLE_FILES["runs"])
        runs["switch"] = [json.loads(v) if isinstance(v, str) and v else None for v in runs["switch"]]
        runs["batch"] = [
            tables.batch_label(b, s["batch_size"] if s else None) for b, s in zip(runs["batch_size"], runs["switch"])
        ]
        runs["switch"] = runs["switch"].astype(object).where(runs["switch"].notna(), None)
        return runs[runs["status"] == status.OK].reset_index(drop=True)

    @property
    def caption(self) -> str:
        return self.config["tables"][self.name]["caption"]  # configuration.fill gives every table one

    @property
    def experiment(self) -> str:
        return self.config["tables"][self.name]["experiment"]

    @property
    def summary(self) -> dict:
        return table_summary(self.name, self.csv("numbers"), self.claims)

    @property
    def seeds(self) -> int:
        return int(self.csv("table")["seeds"].min())

    def ours(self, metric: str, batch) -> float:
        """Our mean over seeds at one batch size (a table row's label: 128, or '8192→128')."""
        table = self.csv("table")
        return float(table.loc[table["batch"].astype(str) == str(batch), metric].iloc[0])

    def column(self, metric: str) -> list[float]:
        """A column of our table, in its order."""
        return self.csv("table")[metric].tolist()

    def paper(self, metric: str) -> list[float]:
        """The paper's values of a metric, at the batch sizes it gives, in the table's order."""
        numbers = self.csv("numbers")
        return numbers.loc[(numbers["metric"] == metric) & numbers["ours"].notna(), "paper"].tolist()

    def differences(self, metric: str) -> list[float]:
        """Ours minus the paper's, at every batch size both have."""
        numbers = self.csv("numbers")
        return numbers.loc[(numbers["metric"] == metric) & numbers["ours"].notna(), "difference"].tolist()

    def trend(self, measure: str, artifact: str | None = None) -> dict:
        """One trend row (the table's own, or a figure's: ``artifact``) as a dict, its verdict in words
        as ``said``."""
        claims = self.csv("trends")
        rows = claims[(claims["artifact"] == (artifact or self.name)) & (claims["measure"] == measure)]
        if rows.empty:
            raise KeyError(f"{self.name}: no trend of {measure!r} for {artifact or self.name}")
        row = rows.iloc[0]
        return {**row.to_dict(), "said": verdicts.verdict_in_words(row)}

    def claims_of(self, kind: str) -> list[dict]:
        """The table's own claims of one kind (``measures.GROWS``, ``verdicts.CLOSES``...), each a
        dict with its verdict in words as ``said``."""
        rows = self.claims[(self.claims["artifact"] == self.name) & (self.claims["claim_kind"] == kind)]
        return [{**row.to_dict(), "said": verdicts.verdict_in_words(row)} for _, row in rows.iterrows()]

    @property
    def no_effect_claims(self) -> list[dict]:
        """The table's claims of no effect (Table 11's: the switch closes the gap)."""
        return self.claims_of(verdicts.CLOSES)

    def has_trend(self, measure: str, artifact: str | None = None) -> bool:
        claims = self.claims
        return bool(((claims["artifact"] == (artifact or self.name)) & (claims["measure"] == measure)).any())

    @property
    def has_measures(self) -> bool:
        return (self.folder / "measures.csv").exists()

    @functools.cached_property
    def measured(self) -> pd.DataFrame:
        """measures.csv: every measure of every probe, layer and mode of the part's runs."""
        return pd.read_csv(self.folder / "measures.csv")

    def layers(self, measure: str = "effective_rank", probe: str | None = None) -> str:
        """``layer_summary`` of the table's own runs on ``probe`` (default the fixed probe), at the
        smallest and the largest batch size, trained (last epoch) and untrained (epoch 0)."""
        probe = probe or self.config["probe"]["fixed_splits"][0]
        measured = self.measured
        own = measured[(measured["experiment"] == self.experiment) & (measured["probe"] == probe)]
        last = own["epoch"] == own.groupby(["batch_size", "seed"])["epoch"].transform("max")
        sizes = sorted(own["batch_size"].unique())
        columns = {}
        for batch in (sizes[0], sizes[-1]) if sizes else ():
            columns[f"{batch}, trained"] = (own["batch_size"] == batch) & last
            columns[f"{batch}, untrained"] = (own["batch_size"] == batch) & (own["epoch"] == 0)
        return layer_summary(own, columns, measure, self.config["analysis"]["thresholds"][0])

    @property
    def batches(self) -> list[str]:
        """The table's rows: batch sizes, or for switch runs '8192→128'."""
        return self.csv("table")["batch"].astype(str).tolist()

    def seed_values(self, column: str, batch) -> list[float]:
        """One batch size's runs, seed by seed (``runs.csv``; a switch run by its starting batch size)."""
        runs = self.csv("runs")
        start = int(str(batch).split("→")[0])
        switched = runs["switch"].notna() if "→" in str(batch) else runs["switch"].isna()
        return runs.loc[(runs["batch_size"] == start) & switched, column].tolist()

    def figure_values(self, figure: str, measure: str = "near-rank loss") -> list[float]:
        """A figure's means per batch size, as its trend row lists them."""
        values = self.trend(measure, figure)["values"]
        return [float(item.split(": ")[1]) for item in values.split(", ")]

    # tables the part README shows
    @property
    def summary_markdown(self) -> str:
        return markdown(pd.DataFrame([self.summary]), floatfmt=".2f")

    @property
    def side_by_side(self) -> str:
        return markdown(side_by_side(self.csv("numbers"), self.name))

    @property
    def table_markdown(self) -> str:
        return (self.folder / f"{self.name}.md").read_text().split("\n", 1)[1].strip()  # its caption dropped

    @property
    def trends_markdown(self) -> str:
        return markdown(paper_comparison.trends_formatted(self.csv("trends")), disable_numparse=True)

    @property
    def losses_markdown(self) -> str:
        evidence = self.csv("losses")
        return markdown(loss_summary(evidence), floatfmt=".4f") if len(evidence) else ""

    @property
    def figures(self) -> list[tuple[str | None, str | None]]:
        """The figures of the table's experiment (which its data hold), in rows (``figure_pairs``)."""
        return figure_pairs({n: s for n, s in self.config["figures"].items() if s["experiment"] == self.experiment})


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


def table_summary(table: str, numbers: pd.DataFrame, claims: pd.DataFrame) -> dict:
    """One table in a row: how far our test errors are from the paper's, and the verdict of each of
    its judged claims (ours, then the paper's where it has one), its figures' per measure."""
    errors = numbers[(numbers["artifact"] == table) & (numbers["metric"] == "test_error")]["difference"].abs()
    row = {"table": table, "mean |Δ test error| (pp)": errors.mean(), "max |Δ test error| (pp)": errors.max()}
    own = claims[claims["artifact"] == table]
    for measure, rows in own.groupby("measure", sort=False):
        row[measure] = _claim_verdict(rows)
    for measure in trends.FIGURE_MEASURES.values():
        figures = claims[(claims["artifact"] != table) & (claims["measure"] == measure)]
        if len(figures):
            row[measure] = "; ".join(f"{a}: {_claim_verdict(g)}" for a, g in figures.groupby("artifact", sort=False))
    return row


def _claim_verdict(rows: pd.DataFrame) -> str:
    """A claim's verdict (the words say which test it rests on), and the paper's beside it where it
    has one; '' for none."""
    if rows.empty:
        return ""
    row = rows.iloc[0]
    theirs = "" if pd.isna(row["paper_rho"]) else f"; paper: {row['paper_verdict']}"
    return row["verdict"] + theirs


def side_by_side(numbers: pd.DataFrame, table: str) -> pd.DataFrame:
    """One table's numbers: per batch size, each metric as paper / ours / difference."""
    rows = numbers[(numbers["artifact"] == table) & numbers["ours"].notna()]  # an alternative runs only some batches
    if rows.empty:
        return rows
    wide = rows.pivot_table(
        index="batch", columns="metric", values=["paper", "ours", "difference"], aggfunc="first", sort=False
    )
    shown = pd.DataFrame({"batch": wide.index})
    for metric in rows["metric"].unique():
        digits = 2 if metric.endswith("error") else 4
        for kind in ("paper", "ours", "difference"):
            sign = "+" if kind == "difference" else ""
            shown[f"{metric} {kind}"] = [f"{v:{sign}.{digits}f}" for v in wide[(kind, metric)].to_numpy()]
    return shown


def figure_pairs(specs: dict[str, dict]) -> list[tuple[str | None, str | None]]:
    """Figures in rows: each figure against batch size with the components figure of the same
    experiment and threshold; figures of other kinds (against epoch) and unpaired ones on their own."""

    def key(name):
        return specs[name]["experiment"], specs[name]["threshold"]

    parts = {key(name): name for name, spec in specs.items() if spec.get("plot") == "components"}
    rows = []
    for name, spec in specs.items():
        if spec.get("plot", "batch_size") == "batch_size":
            rows.append((name, parts.pop(key(name), None)))
        elif spec["plot"] != "components":
            rows.append((name, None))
    return rows + [(None, name) for name in parts.values()]


def _demoted(markdown_text: str) -> list[str]:
    """A markdown document's lines with its headings one level down (code blocks left alone)."""
    lines, in_code = [], False
    for line in markdown_text.strip().splitlines():
        in_code ^= line.startswith("```")
        lines.append("#" + line if line.startswith("#") and not in_code else line)
    return lines
