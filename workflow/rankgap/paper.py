"""The paper's own numbers beside ours: every value of Tables 1-11, and whether each figure's and
table's trend agrees with the paper's claims (Spearman's rho between batch size and near-rank loss,
training loss and test error, with its exact p-value, against the run-to-run spread), the same check
on the paper's own numbers.  The appendix's comparison is random_comparison.py.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from . import rankloss, status
from .measures import FALLS, GROWS, MEASURES, combined
from .tables import REPORTED_LOSS, SPLITS, batch_label, describe_loss, read_summaries
from .verdicts import (
    AGREES,
    CLOSES,
    FIGURES,
    JUDGED,
    ONE_SEED,
    SHARE_COLUMNS,
    STATISTICS,
    VERDICTS,
    counts_as_agreement,
    criterion,
    judge,
    p_text,
    rho_text,
    share_closed,
    trend_statistics,
    verdict_in_words,
)

REFERENCE = Path(__file__).with_name("reference_paper_tables.csv")
PAPER_COLUMNS = {
    "train_error_pct": "train_error",
    "test_error_pct": "test_error",
    "train_loss": "train_loss",
    "test_loss": "test_loss",
}


def reference_tables(path: Path = REFERENCE) -> pd.DataFrame:
    reference = pd.read_csv(path)
    reference["batch"] = [
        batch_label(b, None if pd.isna(s) else int(s)) for b, s in zip(reference["batch_size"], reference["switch_to"])
    ]
    return reference


NUMBER_COLUMNS = ["artifact", "model", "dataset", "variant", "batch", "metric", "paper", "ours", "difference", "status"]


def paper_table(name: str) -> int | None:
    """The paper's table a config table stands beside: Table N for ``tableN`` and for ``tableN_...``
    (a variant of it, e.g. ``table9_avg_pooling``); None for any other name."""
    number = re.fullmatch(r"table(\d+)(_\w+)?", name)
    return int(number.group(1)) if number else None


def compare_tables(ours: dict[str, pd.DataFrame], reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per number the paper reports for each table we built: paper, ours, difference."""
    reference = reference_tables() if reference is None else reference
    rows = []
    for name, table in ours.items():
        for _, ref in reference[reference["table"] == paper_table(name)].iterrows():
            match = table[table["batch"].astype(str) == ref["batch"]]
            for paper_metric, our_metric in PAPER_COLUMNS.items():
                value = match[our_metric].iloc[0] if len(match) else float("nan")
                rows.append(
                    {
                        "artifact": name,
                        "model": ref["model"],
                        "dataset": ref["dataset"],
                        "variant": ref["variant"],
                        "batch": ref["batch"],
                        "metric": our_metric,
                        "paper": ref[paper_metric],
                        "ours": value,
                        "difference": value - ref[paper_metric],
                        "status": match["status"].iloc[0] if len(match) else "not run",
                    }
                )
    return pd.DataFrame(rows, columns=NUMBER_COLUMNS)


# --- trends -----------------------------------------------------------------------------------

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
    name: str, runs: pd.DataFrame, paper: pd.DataFrame, unswitched: pd.DataFrame | None = None
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
    runs, paper = runs[~switched], paper[paper["switch_to"].isna()]
    for column, (measure, paper_column, number_format) in TABLE_MEASURES.items():
        points = pd.DataFrame(
            {"key": runs["batch"], "x": runs["batch_size"], "seed": runs["seed"], "value": runs[column]}
        )
        paper_points = pd.DataFrame(
            {"key": paper["batch"], "x": paper["batch_size"], "seed": 0, "value": paper[paper_column]}
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


def trends(
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
        paper = reference[reference["table"] == paper_table(name)]
        rows += table_claims(name, runs, paper, (unswitched or {}).get(name))
    return pd.DataFrame(rows, columns=TREND_COLUMNS)


def compare(
    tables_csv: dict[str, Path],
    table_summaries: dict[str, list[Path]],
    figures: dict[str, float],
    analysis: dict[str, Path] | None,
    probes: dict[str, str],
    reported_loss: dict[str, str],
    reference: pd.DataFrame | None = None,
    datasets: list[str] | None = None,
    unswitched: dict[str, list[Path]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every number of the tables beside the paper's, and every claim judged (see ``trends``), from the
    files the pipeline wrote: per table its CSV and its runs' summaries; per figure its threshold
    (``figures``, the first the one that checks the threshold-free measures), with the experiment's
    ``analysis`` files (rankloss.csv as ``counts``, measures.csv as ``measures``); ``probes``, the
    probes' names by role.  Runs that did not finish ok are left out of the trends; ``datasets``:
    the only ones whose figure trends are checked."""
    reference = reference_tables() if reference is None else reference
    numbers = compare_tables({name: pd.read_csv(path) for name, path in tables_csv.items()}, reference)
    runs = {name: read_summaries(paths, reported_loss) for name, paths in table_summaries.items()}
    without = {name: read_summaries(paths, reported_loss) for name, paths in (unswitched or {}).items() if paths}
    points = {}
    if analysis and figures:
        counts, measured = pd.read_csv(analysis["counts"]), pd.read_csv(analysis["measures"])
        for figure, threshold in figures.items():
            frame = figure_points(counts, measured, threshold, probes)
            ok = frame["status"] == status.OK
            points[figure] = frame[ok & frame["dataset"].isin(datasets)] if datasets else frame[ok]
    claims = trends(points, runs, reference, without, first_figures=set(list(figures)[:1]))
    return numbers, judge(claims)


def loss_evidence(ours: dict[str, pd.DataFrame], reference: pd.DataFrame) -> pd.DataFrame:
    """Per run the paper has a number for and per split: the paper's loss beside both kinds of ours
    (the table CSVs keep both), and whether our fit is comparable (training error within 1 point
    of the paper's: a model that fits less has another loss whichever kind is printed)."""
    rows = []
    for name, table in ours.items():
        refs = reference[reference["table"] == paper_table(name)].set_index("batch")
        for _, run in table[table["batch"].astype(str).isin(refs.index)].iterrows():
            ref = refs.loc[str(run["batch"])]
            for split in SPLITS:
                rows.append(
                    {
                        "table": name,
                        "batch": str(run["batch"]),
                        "split": split,
                        "paper": ref[f"{split}_loss"],
                        **{kind: run[f"{split}_{kind}"] for kind in REPORTED_LOSS},
                        "comparable fit": abs(run["train_error"] - ref["train_error_pct"]) <= 1,
                    }
                )
    return pd.DataFrame(rows, columns=["table", "batch", "split", "paper", *REPORTED_LOSS, "comparable fit"])


def read_trends(path: Path) -> pd.DataFrame:
    """The claims as ``write`` (or a published part's data) saved them, statistics as numbers and
    verdicts as text.  Claims saved by older code are read into today's columns: their kind from
    their words, their family (a table's figures together, each table claim alone), and the
    verdict is taken anew from the statistics (``verdicts.judge``): a row without the statistics a
    verdict needs says n/a."""
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


def trends_formatted(claims: pd.DataFrame) -> pd.DataFrame:
    """The judged claims as the comparison shows them: ours and the paper's side by side."""
    return pd.DataFrame(
        {
            "Artifact": claims["artifact"],
            "Dataset": claims["dataset"],
            "Claim": claims["claim"],
            "n": claims["n"].map(lambda v: "" if pd.isna(v) else f"{v:.0f}"),
            "Verdict": [verdict_in_words(row) for _, row in claims.iterrows()],
            "Seed range": [
                f"{rho_text(lo)} to {rho_text(hi)}" if not math.isnan(lo) else ""
                for lo, hi in zip(claims["seed_min"], claims["seed_max"])
            ],
            "Change (± se)": [
                "" if math.isnan(c) else f"{c:+.4g}" + ("" if math.isnan(se) else f" ± {se:.2g}")
                for c, se in zip(claims["change"], claims["change_se"])
            ],
            "Paper": [
                verdict if math.isnan(rho) else f"{verdict} (ρ {rho_text(rho)}, p {p_text(p)})"
                for verdict, rho, p in zip(claims["paper_verdict"], claims["paper_rho"], claims["paper_p_value"])
            ],
            **{
                heading: claims[column].astype(object).where(claims[column].notna(), "")
                for heading, column in (
                    ("Driven by", "driven by"),
                    ("Our values", "values"),
                    ("Untrained (epoch 0)", "untrained_values"),
                )
            },
        }
    )


def write(
    numbers: pd.DataFrame, claims: pd.DataFrame, csv: Path, trends_csv: Path, md: Path, reported_loss: dict[str, str]
) -> None:
    """The comparison of every table: its numbers (``csv``), its judged claims (``trends_csv``) and
    both in words (``md``)."""
    numbers.to_csv(csv, index=False)
    claims.to_csv(trends_csv, index=False)
    ours, theirs = claims["verdict"].value_counts(), claims["paper_verdict"].value_counts()
    tally = ", ".join(f"{ours[v]} {v}" for v in VERDICTS if ours.get(v, 0))
    agreeing = int(sum(count for verdict, count in ours.items() if counts_as_agreement(verdict)))
    paper_checks = theirs[~theirs.index.str.startswith("n/a")].sum()  # the paper prints numbers for enough points
    text = [
        "# The paper beside this run",
        "",
        f"Losses: ours are the {describe_loss(reported_loss)}, as config `reported_loss: "
        f"{{train: {reported_loss['train']}, test: {reported_loss['test']}}}` asks; the paper's are as it prints them.",
        "",
        "## Claims the paper makes",
        "",
        criterion(),
        "",
        f"{agreeing} of {len(claims)} claims agree with the paper's"
        + (f" ({tally})" if tally else "")
        + "; the paper's own numbers agree in "
        f"{theirs.get(AGREES + ONE_SEED, 0)} of the {paper_checks} checks they allow.",
        "",
        trends_formatted(claims).to_markdown(index=False, disable_numparse=True)
        if len(claims)
        else "(no tables or figures in this config)",
        "",
        "## Every number of the paper's tables",
        "",
    ]
    if len(numbers):
        shown = numbers.assign(
            paper=numbers["paper"].map("{:g}".format),
            ours=numbers["ours"].map("{:.4g}".format),
            difference=numbers["difference"].map("{:+.4g}".format),
        )
        text.append(shown.to_markdown(index=False, disable_numparse=True))
    else:
        text.append("No table of this config is named after one of the paper's (table1 ... table11, or tableN_...).")
    Path(md).write_text("\n".join(text) + "\n")
