"""A published table of the paper as its README reads it (``TablePart``, readme_parts.py): its
numbers beside the paper's, each claim's trend and verdict, its losses, figures and per-layer
measures."""

from __future__ import annotations

import functools
import json

import pandas as pd

from . import paper, paper_comparison, status, tables, trends, verdicts
from .paper_losses import loss_summary
from .publication_layout import TABLE_FILES
from .readme_parts import Part, layer_summary
from .templates import markdown


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
        """``layer_summary`` on ``probe`` (default the fixed probe) of the table's own runs at the
        smallest and the largest batch size, trained (last epoch) and untrained (epoch 0), after a
        switch table's baseline (Table 11's 128) trained."""
        probe = probe or self.config["probe"]["fixed_splits"][0]
        measured = self.measured[self.measured["probe"] == probe]
        runs = measured.groupby(["experiment", "batch_size", "seed"])["epoch"]
        last = measured["epoch"] == runs.transform("max")
        own = measured["experiment"] == self.experiment
        columns = {}
        baseline = self.config["tables"][self.name].get("baseline")
        if baseline:
            of_baseline = (measured["experiment"] == baseline["experiment"]) & (
                measured["batch_size"] == baseline["batch_size"]
            )
            columns[f"{baseline['batch_size']}, trained"] = of_baseline & last
        switch = self.config["experiments"][self.experiment].get("switch")
        sizes = sorted(measured.loc[own, "batch_size"].unique())
        for batch in (sizes[0], sizes[-1]) if sizes else ():
            label = tables.batch_label(batch, switch["batch_size"] if switch else None)
            columns[f"{label}, trained"] = own & (measured["batch_size"] == batch) & last
            columns[f"{label}, untrained"] = own & (measured["batch_size"] == batch) & (measured["epoch"] == 0)
        return layer_summary(measured, columns, measure, self.config["analysis"]["thresholds"][0])

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
