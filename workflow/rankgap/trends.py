"""Whether each figure's and table's trend agrees with the paper's claims: Spearman's rho between
batch size and near-rank loss, training loss and test error, with its exact p-value, against the
run-to-run spread (and beside an untrained network's), and the same check on the paper's own
numbers (paper.py); every claim judged by the analysis plan (verdicts.py).  The comparison with the
paper that reports them, from the pipeline's files, is paper_comparison.py.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import rankloss
from .measures import FALLS, GROWS, MEASURES, combined
from .paper import paper_table, reference_tables
from .verdicts import (
    CLOSES,
    FIGURES,
    JUDGED,
    SHARE_COLUMNS,
    STATISTICS,
    judge,
    share_closed,
    trend_statistics,
)

COUNTED = {"dead_zeros": "dead units", "other_zeros": "other exact zeros", "genuine": "genuine near-rank loss"}


def driver(means: pd.DataFrame) -> str:
    """The component of the count that grows most from the smallest to the largest batch size."""
    if len(means) < 2:
        return "n/a"
    growth = means[list(COUNTED)].iloc[-1] - means[list(COUNTED)].iloc[0]
    if growth.max() <= 0:
        return "none grows"
    top = growth.idxmax()
    return f"{COUNTED[top]} (+{growth[top]:.3g} of +{means['count'].iloc[-1] - means['count'].iloc[0]:.3g})"


# A table's claims: its measure (the table's column) -> the paper's column and how its values print.
# The training loss is checked in both kinds (the paper does not say which it prints).
TABLE_MEASURES = {
    "test_error": ("test error", "test_error_pct", "{:.2f}"),
    "train_objective": ("train loss (objective)", "train_loss", "{:.4f}"),
    "train_cross_entropy": ("train loss (cross-entropy)", "train_loss", "{:.4f}"),
}
# A figure's claims: (measure, probe) -> its name in the comparison.  The paper's count on the paper's
# probe batch, the same with the structural deficit (the values an SVD never reports because the
# batch exceeds a layer), and on the fixed probe every measure of rank compared across batch sizes.
# Threshold-free measures are checked once per experiment, at its first figure.
BATCH, FIXED = "batch", "fixed"
COUNT_WITH_DEFICIT = "count_with_deficit"
FIGURE_MEASURES = {
    ("count", BATCH): "near-rank loss",
    (COUNT_WITH_DEFICIT, BATCH): "count + structural deficit",
    ("count", FIXED): "near-rank loss, fixed probe",
    ("relative_count", FIXED): "count at t·σmax, fixed probe",
    ("effective_rank_fraction", FIXED): "effective rank (fraction), fixed probe",
}


def _figure_measure(measure: str) -> tuple[str, str, str]:
    """(claim kind, claim in words, number format) of a figure's measure."""
    if measure == COUNT_WITH_DEFICIT:
        return GROWS, "grows with batch size had the count included the structural deficit", "{:g}"
    spec = MEASURES[measure]
    return spec.thesis, f"{spec.label} {spec.thesis} with batch size", spec.number_format


TREND_COLUMNS = [
    "artifact",
    "dataset",
    "measure",
    "claim",
    "claim_kind",
    "family",
    *STATISTICS,
    *[f"null_{s}" for s in STATISTICS],
    "untrained_rho",
    "untrained_change",
    *SHARE_COLUMNS,
    "paper_n",
    "paper_rho",
    "paper_p_value",
    "paper_verdict",
    "driven by",
    "values",
    "untrained_values",
]
NUMERIC_TREND_COLUMNS = [
    *STATISTICS,
    *[f"null_{s}" for s in STATISTICS],
    "untrained_rho",
    "untrained_change",
    *SHARE_COLUMNS,
    "paper_n",
    "paper_rho",
    "paper_p_value",
]


def _listed(means: pd.DataFrame, number_format: str) -> str:
    return ", ".join(f"{key}: {number_format.format(v)}" for key, v in means["value"].items())


def _row(artifact, dataset, measure, claim, kind, family, points, number_format, untrained=None) -> dict:
    """One claim's statistics: the trend of ``points``, and where the runs' ``untrained`` values (the
    same points at epoch 0) are known, the trend of each run's value minus its own (``null_``) and
    of the untrained values alone."""
    ours = trend_statistics(points)
    row = {
        "artifact": artifact,
        "dataset": dataset,
        "measure": measure,
        "claim": claim,
        "claim_kind": kind,
        "family": family,
        **{key: ours[key] for key in STATISTICS},
        "paper_verdict": "n/a: no numbers",
        "driven by": "",
        "values": _listed(ours["means"], number_format),
    }
    if untrained is not None and len(untrained):
        keys = ["key", "x", "seed"]
        paired = points.merge(untrained, on=keys, suffixes=("", "_untrained"))
        difference = trend_statistics(
            paired.assign(value=paired["value"] - paired["value_untrained"])[[*keys, "value"]]
        )
        alone = trend_statistics(untrained)
        row.update({f"null_{key}": difference[key] for key in STATISTICS})
        row.update(untrained_rho=alone["rho"], untrained_change=alone["change"])
        row["untrained_values"] = _listed(alone["means"], number_format)
    return row


def _paper_check(row: dict, paper_points: pd.DataFrame) -> dict:
    """The same trend on the paper's own numbers (one set: one seed), judged alone."""
    if not len(paper_points):
        return row
    theirs = {key: value for key, value in trend_statistics(paper_points).items() if key != "means"}
    judged = judge(pd.DataFrame([{"claim_kind": row["claim_kind"], "family": "paper", **theirs}]))
    return {
        **row,
        "paper_n": theirs["n"],
        "paper_rho": theirs["rho"],
        "paper_p_value": min(theirs["p_up"], theirs["p_down"]),
        "paper_verdict": judged["verdict"].iloc[0],
    }


def figure_points(
    counts: pd.DataFrame, measured: pd.DataFrame, threshold: float, probes: dict[str, str]
) -> pd.DataFrame:
    """Per run and probe epoch, one column per measure of ``FIGURE_MEASURES``: the count and the
    deficit on the paper's probe batch from rankloss.csv (``counts``), the measures of every layer
    and mode together on the fixed probe from measures.csv (``measured``).  ``probes``: the probes'
    names, by role (BATCH, FIXED)."""
    keys = ["dataset", "batch_size", "seed", "epoch", "status"]
    totals = rankloss.total_counts(counts, threshold, probes[BATCH], last_epoch_only=False)
    frame = totals[[*keys, "count", *COUNTED]].assign(**{COUNT_WITH_DEFICIT: totals["count"] + totals["deficit"]})
    frame = frame.rename(columns={"count": "count@batch", COUNT_WITH_DEFICIT: f"{COUNT_WITH_DEFICIT}@batch"})
    fixed = measured[(measured["probe"] == probes[FIXED]) & (measured["threshold"] == threshold)]
    if len(fixed):
        together = combined(fixed, keys)
        together = together.rename(columns={m: f"{m}@fixed" for m in together.columns if m not in keys})
        frame = frame.merge(together, on=keys, how="left")
    return frame


def _batch_points(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """A figure measure's points for ``trend_statistics``: one per run, keyed by batch size."""
    return pd.DataFrame(
        {"key": frame["batch_size"], "x": frame["batch_size"], "seed": frame["seed"], "value": frame[column]}
    )


def figure_claims(name: str, points: pd.DataFrame, first_of_experiment: bool, family: str) -> list[dict]:
    """The claims of one figure (``figure_points`` of its finished runs), per dataset: each measure of
    ``FIGURE_MEASURES`` at the last epoch, with its untrained null where epoch 0 was probed."""
    rows = []
    last = points.groupby(["dataset", "batch_size", "seed"])["epoch"].transform("max")
    trained, untrained = points[points["epoch"] == last], points[(points["epoch"] == 0) & (last > 0)]
    for dataset, group in trained.groupby("dataset", sort=False):
        group = group.sort_values("batch_size", kind="stable")
        nulls = untrained[untrained["dataset"] == dataset]
        for (measure, probe), label in FIGURE_MEASURES.items():
            column = f"{measure}@{probe}"
            if column not in group or group[column].isna().all():
                continue
            if not MEASURES.get(measure, MEASURES["count"]).threshold and not first_of_experiment:
                continue  # threshold-free: checked at the experiment's first figure only
            kind, claim, number_format = _figure_measure(measure)

            row = _row(
                name,
                dataset,
                label,
                claim,
                kind,
                family,
                _batch_points(group, column),
                number_format,
                _batch_points(nulls, column),
            )
            if (measure, probe) == ("count", BATCH):
                row["driven by"] = driver(
                    group.groupby("batch_size")[["count@batch", *COUNTED]]
                    .mean()
                    .sort_index()
                    .rename(columns={"count@batch": "count"})
                )
            rows.append(row)
    return rows


def table_claims(
    name: str, runs: pd.DataFrame, paper_rows: pd.DataFrame, unswitched: pd.DataFrame | None = None
) -> list[dict]:
    """A table's claims.  For a table of switch runs (Table 11): at each starting batch size that
    also has runs without the switch (``unswitched``), the share of the gap the switch closes.  For
    any other: its test error and its training loss, both kinds, grow with batch size."""
    dataset = ", ".join(runs["dataset"].unique())
    switched = runs["switch"].notna()
    if switched.any():
        baseline = runs.loc[~switched, "test_error"]
        rows = []
        for start, group in runs[switched].groupby("batch_size", sort=True):
            without = unswitched[unswitched["batch_size"] == start]["test_error"] if unswitched is not None else []
            share = share_closed(baseline, group["test_error"], without) if len(without) else {}
            rows.append(
                {
                    "artifact": name,
                    "dataset": dataset,
                    "measure": f"test error, switch from {start}",
                    "claim": f"switching to {group['switch'].iloc[0]['batch_size']} closes the gap of batch {start}",
                    "claim_kind": CLOSES,
                    "family": f"{name}: {start}",
                    "start": start,
                    "seeds": len(group),
                    **share,
                    "paper_verdict": "n/a: no runs without the switch",
                }
            )
        return rows
    rows = []
    runs, paper_rows = runs[~switched], paper_rows[paper_rows["switch_to"].isna()]
    for column, (measure, paper_column, number_format) in TABLE_MEASURES.items():
        points = pd.DataFrame(
            {"key": runs["batch"], "x": runs["batch_size"], "seed": runs["seed"], "value": runs[column]}
        )
        paper_points = pd.DataFrame(
            {"key": paper_rows["batch"], "x": paper_rows["batch_size"], "seed": 0, "value": paper_rows[paper_column]}
        )
        row = _row(
            name,
            dataset,
            measure,
            f"{measure} grows with batch size",
            GROWS,
            f"{name}: {measure}",
            points,
            number_format,
        )
        rows.append(_paper_check(row, paper_points))
    return rows


def trend_claims(
    figure_points_by_name: dict[str, pd.DataFrame],
    table_runs: dict[str, pd.DataFrame],
    reference: pd.DataFrame | None = None,
    unswitched: dict[str, pd.DataFrame] | None = None,
    first_figures: set[str] | None = None,
) -> pd.DataFrame:
    """The claims of tables and figures, with their statistics (not yet judged: ``verdicts.judge``).
    Per figure (``figure_points`` of its finished runs, by name) the measures of ``FIGURE_MEASURES``,
    one family; per table its claims (``table_claims``; ``unswitched``: per table of switch runs, the
    runs without the switch at its starting batch sizes), checked on the paper's numbers too
    (``reference``, default the module's).  ``first_figures``: the figures that check the
    threshold-free measures (default every figure)."""
    reference = reference_tables() if reference is None else reference
    rows = []
    for name, points in figure_points_by_name.items():
        first = first_figures is None or name in first_figures
        rows += figure_claims(name, points, first, family=FIGURES)
    for name, runs in table_runs.items():
        paper_rows = reference[reference["table"] == paper_table(name)]
        rows += table_claims(name, runs, paper_rows, (unswitched or {}).get(name))
    return pd.DataFrame(rows, columns=TREND_COLUMNS)


def read_trends(path: Path) -> pd.DataFrame:
    """The claims as ``paper_comparison.write_paper_comparison`` (or a published part's data)
    saved them, statistics as numbers and verdicts as text.  Claims saved by older code are read
    into today's columns: their kind from their words, their family (a table's figures together,
    each table claim alone), and the verdict is taken anew from the statistics
    (``verdicts.judge``): a row without the statistics a verdict needs says n/a."""
    claims = pd.read_csv(path, keep_default_na=False, na_values={c: [""] for c in NUMERIC_TREND_COLUMNS})
    if "claim_kind" not in claims:
        claims["claim_kind"] = [
            CLOSES if "does not grow" in claim else FALLS if " falls " in claim else GROWS for claim in claims["claim"]
        ]
        table_rows = claims["measure"].isin(["test error", "train loss"])
        claims["family"] = claims["artifact"].where(~table_rows, claims["artifact"] + ": " + claims["measure"])
        claims.loc[~table_rows, "family"] = FIGURES
    claims = claims.reindex(columns=list(dict.fromkeys([*TREND_COLUMNS, *claims.columns])))
    claims = claims.astype({c: float for c in NUMERIC_TREND_COLUMNS})
    return judge(claims.drop(columns=[c for c in JUDGED if c in claims]))
