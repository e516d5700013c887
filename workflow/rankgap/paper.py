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

from . import significance, status
from .significance import ALPHA
from .tables import REPORTED_LOSS, SPLITS, batch_label, describe_loss, read_summaries

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

GROWS, FALLS, STAYS = "grows", "falls", "does not grow"
VERDICTS = ("agrees", "opposite", "within the spread", "no clear trend", "n/a")


def verdict(p_up: float, p_down: float, change: float, least: float, n: int, claim: str = GROWS) -> str:
    """Whether a measure's trend over n points agrees with a claim that it grows, falls or does not grow.

    It grows when Spearman's rho of its means is significant upwards (``p_up`` <= ALPHA) and its
    change from the smallest to the largest batch size exceeds ``least``, the smallest change the
    run-to-run spread lets count (NaN with one seed, when the spread is unknown: then rho alone
    decides, and the trend's ``sd_needed`` says how small the spread must be for the change to
    count); it falls likewise.  A significant rho whose change does not count is 'within the
    spread'.  'n/a' when n points are too few for any rho to be significant (n <= 3 at 5%)."""
    if n < 2 or significance.smallest_p(n) > ALPHA:
        return "n/a"
    unknown = math.isnan(least)
    rises = p_up <= ALPHA and (unknown or change > least)  # False for NaN p (a constant series)
    falls = p_down <= ALPHA and (unknown or -change > least)
    if claim == STAYS:
        return "opposite" if rises else "agrees"
    if claim == FALLS:
        rises, falls = falls, rises
    if rises or falls:
        return "agrees" if rises else "opposite"
    return "within the spread" if min(p_up, p_down) <= ALPHA else "no clear trend"


def trend(points: pd.DataFrame, claim: str) -> dict:
    """Does a measure grow with batch size?  ``points``: one row per run with columns key (one per
    batch size or table row), x (the batch size), seed and value.

    Spearman's rho of the means over seeds against x, with its exact one-sided p-values; the lowest
    and highest rho of single seeds; the change from the smallest to the largest x, its standard
    error from the run-to-run spread pooled over the points (one-way ANOVA's, with several seeds),
    the least change that counts (two-sided t at ALPHA times that standard error) and, with one
    seed, ``sd_needed``: the largest spread under which the change would count; the verdict."""
    means = points.groupby("key", sort=False).agg(x=("x", "first"), value=("value", "mean"), seeds=("value", "count"))
    means = means.dropna()
    rho = significance.spearman(means["x"], means["value"])
    p_up, p_down = (significance.spearman_p(means["x"], means["value"], side) for side in ("greater", "less"))
    per_seed = [significance.spearman(g["x"], g["value"]) for _, g in points.groupby("seed")]
    per_seed = [r for r in per_seed if not math.isnan(r)] if points["seed"].nunique() > 1 else []
    ends = means.sort_values("x", kind="stable").iloc[[0, -1]] if len(means) else means
    change = ends["value"].iloc[-1] - ends["value"].iloc[0] if len(ends) else math.nan
    sd, dof = significance.pooled_sd(points["value"], points["key"])
    se = sd * math.sqrt((1 / ends["seeds"]).sum()) if len(ends) else math.nan
    least = significance.t_critical(dof) * se
    one_seed = len(means) > 0 and means["seeds"].max() == 1
    return {
        "n": len(means),
        "seeds": int(means["seeds"].min()) if len(means) else 0,
        "rho": rho,
        "p_value": p_down if rho < 0 else p_up,  # one-sided, in the direction rho points
        "seed_min": min(per_seed, default=math.nan),
        "seed_max": max(per_seed, default=math.nan),
        "change": change,
        "change_se": se,
        "sd": sd,
        "least_change": least,
        # one seed: the run-to-run sd below which this change would count, were it known (z, not t)
        "sd_needed": abs(change) / (significance.z_critical() * math.sqrt(2)) if one_seed else math.nan,
        "verdict": verdict(p_up, p_down, change, least, len(means), claim),
        "means": means,
    }


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


# table measure -> the paper's column and how its values print
TABLE_MEASURES = {"train_loss": ("train_loss", "{:.4f}"), "test_error": ("test_error_pct", "{:.2f}")}
# a figure's measures: the paper's count, the same with the structural deficit, and the scale-invariant
# measures of the same activations (scale_invariant.py), each with the claim the paper's thesis makes of it
FIGURE_MEASURES = {
    "count": ("near-rank loss", GROWS, "near-rank loss grows with batch size", "{:g}"),
    "count_with_deficit": (
        "count + structural deficit",
        GROWS,
        "grows with batch size had the count included the structural deficit",
        "{:g}",
    ),
    "relative_count": ("count at t·σmax", GROWS, "the count relative to σmax grows with batch size", "{:g}"),
    "effective_rank_fraction": (
        "effective rank",
        FALLS,
        "the effective rank (fraction of the singular values) falls with batch size",
        "{:.4f}",
    ),
}
TREND_STATISTICS = [
    "n",
    "seeds",
    "rho",
    "p_value",
    "seed_min",
    "seed_max",
    "change",
    "change_se",
    "sd",
    "least_change",
    "sd_needed",
]
NUMERIC_TREND_COLUMNS = [*TREND_STATISTICS, "paper_n", "paper_rho", "paper_p_value"]
TREND_COLUMNS = [
    "artifact",
    "dataset",
    "measure",
    "claim",
    *TREND_STATISTICS,
    "verdict",
    "paper_n",
    "paper_rho",
    "paper_p_value",
    "paper_verdict",
    "driven by",
    "values",
]


def _row(artifact, dataset, measure, claim, kind, points, number_format, paper_points=None) -> dict:
    ours = trend(points, kind)
    row = {
        "artifact": artifact,
        "dataset": dataset,
        "measure": measure,
        "claim": claim,
        **{key: ours[key] for key in (*TREND_STATISTICS, "verdict")},
        "paper_n": math.nan,
        "paper_rho": math.nan,
        "paper_p_value": math.nan,
        "paper_verdict": "n/a: no numbers",
        "driven by": "",
        "values": ", ".join(f"{key}: {number_format.format(v)}" for key, v in ours["means"]["value"].items()),
    }
    if paper_points is not None and len(paper_points):
        theirs = trend(paper_points, kind)  # one set of numbers: the paper's spread is unknown
        row.update(
            paper_n=theirs["n"],
            paper_rho=theirs["rho"],
            paper_p_value=theirs["p_value"],
            paper_verdict=theirs["verdict"],
        )
    return row


def trends(
    figure_totals: dict[str, pd.DataFrame], table_runs: dict[str, pd.DataFrame], reference: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per figure and dataset: does near-rank loss grow with batch size, and do the measures of
    ``FIGURE_MEASURES`` move as the paper's thesis says?  Per table: do the training loss and the
    test error (the generalization gap itself)?  For a table of switch runs (Table 11), the claim is
    that its test error does not grow with the starting batch size.  The paper's own numbers
    (``reference``, default the module's) are checked the same way where it gives them.

    ``figure_totals``: per figure, rank.total_counts of its finished runs, with the scale-invariant
    measures beside (their columns, where known); ``table_runs``: per table, the runs' summaries as
    tables.read_summaries gives them."""
    reference = reference_tables() if reference is None else reference
    rows = []
    for name, totals in figure_totals.items():
        totals = totals.assign(count_with_deficit=totals["count"] + totals["deficit"])
        for dataset, group in totals.groupby("dataset", sort=False):
            group = group.sort_values("batch_size", kind="stable")
            for column, (measure, kind, claim, number_format) in FIGURE_MEASURES.items():
                if column not in group:
                    continue
                points = pd.DataFrame(
                    {
                        "key": group["batch_size"],
                        "x": group["batch_size"],
                        "seed": group["seed"],
                        "value": group[column],
                    }
                )
                row = _row(name, dataset, measure, claim, kind, points, number_format)
                if column == "count":
                    row["driven by"] = driver(group.groupby("batch_size")[["count", *COUNTED]].mean().sort_index())
                rows.append(row)
    for name, runs in table_runs.items():
        paper = reference[reference["table"] == paper_table(name)]
        switched = runs["switch"].notna()
        if switched.any():  # every row: the switch runs and the baseline, against the starting batch size
            checks = [
                (
                    "test_error",
                    STAYS,
                    "test error does not grow with the starting batch size (the switch closes the gap)",
                )
            ]
        else:
            checks = [(m, GROWS, f"{m.replace('_', ' ')} grows with batch size") for m in TABLE_MEASURES]
            runs, paper = runs[~switched], paper[paper["switch_to"].isna()]
        for measure, kind, claim in checks:
            column, number_format = TABLE_MEASURES[measure]
            points = pd.DataFrame(
                {"key": runs["batch"], "x": runs["batch_size"], "seed": runs["seed"], "value": runs[measure]}
            )
            paper_points = pd.DataFrame(
                {"key": paper["batch"], "x": paper["batch_size"], "seed": 0, "value": paper[column]}
            )
            dataset = ", ".join(runs["dataset"].unique())
            rows.append(
                _row(name, dataset, measure.replace("_", " "), claim, kind, points, number_format, paper_points)
            )
    return pd.DataFrame(rows, columns=TREND_COLUMNS)


def compare(
    tables_csv: dict[str, Path],
    table_summaries: dict[str, list[Path]],
    figure_counts: dict[str, tuple[Path, Path, float]],
    reported_loss: dict[str, str],
    reference: pd.DataFrame | None = None,
    datasets: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every number of the tables beside the paper's, and every trend check (see ``trends``), from the
    files the pipeline wrote: per table its CSV and its runs' summaries, per figure the rankloss.csv
    and scale_invariant.csv of its experiment and its threshold (runs that did not finish ok are
    left out of the trends; ``datasets``: the only ones whose figure trends are checked)."""
    from . import rank, scale_invariant  # import torch: this module stays light for the config checks

    reference = reference_tables() if reference is None else reference
    numbers = compare_tables({name: pd.read_csv(path) for name, path in tables_csv.items()}, reference)
    runs = {name: read_summaries(paths, reported_loss) for name, paths in table_summaries.items()}
    totals = {}
    for figure, (rankloss, invariant, threshold) in figure_counts.items():
        counts = rank.total_counts(pd.read_csv(rankloss), threshold)
        counts = counts.merge(
            scale_invariant.last_epoch(pd.read_csv(invariant), threshold), on=["dataset", "batch_size", "seed"]
        )
        ok = counts["status"] == status.OK
        totals[figure] = counts[ok & counts["dataset"].isin(datasets)] if datasets else counts[ok]
    return numbers, trends(totals, runs, reference)


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


def criterion() -> str:
    """What 'agrees' means, as the comparison states it."""
    return (
        "ρ is Spearman's rank correlation between batch size and the measure's mean over seeds, p its exact "
        "one-sided p-value (the fraction of the n! orderings of the means at least as extreme; the seed range "
        "is the lowest and highest ρ of single seeds). A claim that a measure grows (or falls) with batch size "
        f"**agrees** when p ≤ {ALPHA:g} in that direction and the change from the smallest to the largest batch "
        "size exceeds the run-to-run spread: with several seeds, Student's two-sided "
        f"{ALPHA:.0%} t times the change's standard error, from the spread over seeds pooled over the batch "
        "sizes; a significant ρ whose change does not exceed it is **within the spread**. With one seed the "
        "spread is unknown: ρ alone decides, and the verdict says how small the run-to-run standard deviation "
        "(sd) must be for the change to count. It is **opposite** when the measure moves the other way by "
        "the same test, and otherwise there is **no clear trend**. Table 11's claim, that switching to a "
        "small batch (128) closes the gap, is that its test error does not grow with the starting batch size, "
        "the small-batch baseline included: it agrees unless the test error grows by that test. With 3 points "
        "or fewer no ρ can be significant: n/a. The paper's ρ comes from its own numbers "
        "(reference_paper_tables.csv), one set of them; it prints none for its figures."
    )


def _rho(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:+.3f}"


def _p(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3g}"


def verdict_in_words(row) -> str:
    """A trend's verdict with what it rests on: 'agrees (ρ +0.94, p 0.0083; change +1.5, 0.39 needed;
    3 seeds)', the change beside the least the spread over seeds lets count, or with one seed the
    spread the change needs: '...; one seed: counts if sd < 0.35'."""
    if row["verdict"] == "n/a" or math.isnan(row["rho"]):
        return row["verdict"]
    rests = f"ρ {_rho(row['rho'])}, p {_p(row['p_value'])}; "
    if row["seeds"] > 1:
        rests += f"change {row['change']:+.3g}, {row['least_change']:.3g} needed; {row['seeds']:.0f} seeds"
    else:
        rests += f"one seed: counts if sd < {row['sd_needed']:.3g}"
    return f"{row['verdict']} ({rests})"


def read_trends(path: Path) -> pd.DataFrame:
    """The trend checks as ``write`` saved them (verdicts such as 'n/a' stay text)."""
    claims = pd.read_csv(path, keep_default_na=False, na_values={c: [""] for c in NUMERIC_TREND_COLUMNS})
    return claims.astype({c: float for c in NUMERIC_TREND_COLUMNS})


def trends_formatted(claims: pd.DataFrame) -> pd.DataFrame:
    """The trend checks as the comparison shows them: ours and the paper's side by side."""
    return pd.DataFrame(
        {
            "Artifact": claims["artifact"],
            "Dataset": claims["dataset"],
            "Claim": claims["claim"],
            "n": claims["n"].map("{:.0f}".format),
            "Verdict": [verdict_in_words(row) for _, row in claims.iterrows()],
            "Seed range": [
                f"{_rho(lo)} to {_rho(hi)}" if not math.isnan(lo) else ""
                for lo, hi in zip(claims["seed_min"], claims["seed_max"])
            ],
            "Change (± se)": [
                "" if math.isnan(c) else f"{c:+.4g}" + ("" if math.isnan(se) else f" ± {se:.2g}")
                for c, se in zip(claims["change"], claims["change_se"])
            ],
            "Paper": [
                verdict if math.isnan(rho) else f"{verdict} (ρ {_rho(rho)}, p {_p(p)})"
                for verdict, rho, p in zip(claims["paper_verdict"], claims["paper_rho"], claims["paper_p_value"])
            ],
            "Driven by": claims["driven by"],
            "Our values": claims["values"],
        }
    )


def write(
    numbers: pd.DataFrame, claims: pd.DataFrame, csv: Path, trends_csv: Path, md: Path, reported_loss: dict[str, str]
) -> None:
    numbers.to_csv(csv, index=False)
    claims.to_csv(trends_csv, index=False)
    ours, theirs = claims["verdict"].value_counts(), claims["paper_verdict"].value_counts()
    tally = ", ".join(f"{ours.get(v, 0)} {v}" for v in VERDICTS[1:] if ours.get(v, 0))
    paper_checks = theirs[~theirs.index.str.startswith("n/a")].sum()  # the paper prints numbers for enough points
    text = [
        "# The paper beside this run",
        "",
        f"Losses: ours are the {describe_loss(reported_loss)}, as config `reported_loss: "
        f"{{train: {reported_loss['train']}, test: {reported_loss['test']}}}` asks; the paper's are as it prints them.",
        "",
        "## Trends the paper claims",
        "",
        criterion(),
        "",
        f"{ours.get('agrees', 0)} of {len(claims)} checks agree with the paper's claims"
        + (f" ({tally})" if tally else "")
        + "; the paper's own numbers agree in "
        f"{theirs.get('agrees', 0)} of the {paper_checks} checks they allow.",
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
