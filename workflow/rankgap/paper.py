"""The paper's own numbers beside ours: every value of Tables 1-11, whether each figure's and
table's trend agrees with the paper's claims (Spearman's rho between batch size and near-rank loss,
training loss and test error, against its one-sided 5% critical value), the same check on the
paper's own numbers, and the appendix's E sigma_min (Tables A1-A3) per matrix size.

A config table named ``tableN`` or ``tableN_...`` is compared with the paper's Table N; figures are checked for the
trend whatever their name.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from . import status
from .tables import batch_label, describe_loss, read_summaries, size_label, size_labels

REFERENCE = Path(__file__).with_name("reference_paper_tables.csv")
APPENDIX_REFERENCE = Path(__file__).with_name("reference_random_matrices.csv")  # Tables A1-A3
METRICS = {
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
            for paper_metric, our_metric in METRICS.items():
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

ALPHA = 0.05  # one-sided significance level of a trend
EXACT_UP_TO = 8  # critical values from all n! orderings up to here (40,320 of them); Student's t above
TOLERANCE = 1e-9  # rho computed from ranks vs the critical value computed from sums of squares


def spearman(x, y) -> float:
    """Spearman's rho: Pearson's correlation of the ranks of x and y (ties share their average
    rank), over the pairs where both are known; NaN when fewer than two remain or either is constant."""
    both = pd.DataFrame({"x": np.asarray(x, dtype=float), "y": np.asarray(y, dtype=float)}).dropna()
    ranks = both.rank()
    if len(both) < 2 or (ranks.nunique() < 2).any():
        return math.nan
    return float(np.corrcoef(ranks["x"], ranks["y"])[0, 1])


@functools.cache
def critical_rho(n: int, alpha: float = ALPHA) -> float:
    """The one-sided critical value of Spearman's rho for n untied points: the smallest rho that a
    random ordering reaches with probability at most alpha.  Exact for n <= EXACT_UP_TO, counting
    every one of the n! orderings; above, from Student's t with n - 2 degrees of freedom
    (t = rho sqrt((n - 2) / (1 - rho^2))).  NaN when no rho is that rare (n <= 3 at 5%)."""
    if n <= EXACT_UP_TO:
        return _exact_critical_rho(n, alpha)
    t = t_critical(alpha, n - 2)
    return t / math.sqrt(n - 2 + t * t)


def _exact_critical_rho(n: int, alpha: float) -> float:
    if n < 2:
        return math.nan
    orderings = np.array(list(itertools.permutations(range(n))))
    # rho = 1 - 6 S / (n (n^2 - 1)), S the sum of squared rank differences: rho >= r exactly when S <= s
    sums, count = np.unique(((orderings - np.arange(n)) ** 2).sum(axis=1), return_counts=True)
    rare = sums[np.cumsum(count) <= alpha * len(orderings) + TOLERANCE]
    return 1 - 6 * rare.max() / (n * (n * n - 1)) if len(rare) else math.nan


def t_upper_tail(t: float, df: int) -> float:
    """P(T > t), t >= 0, for Student's t with an integer number of degrees of freedom: the finite
    series of Abramowitz & Stegun 26.7.3 (odd df) and 26.7.4 (even df)."""
    theta = math.atan(t / math.sqrt(df))
    cos2 = math.cos(theta) ** 2
    total = 0.0
    if df % 2:  # (2/pi) (theta + sin(theta) (cos + 2/3 cos^3 + 2.4/(3.5) cos^5 + ... + cos^(df-2)))
        term = math.cos(theta)
        for k in range(1, (df - 1) // 2 + 1):
            total += term
            term *= cos2 * 2 * k / (2 * k + 1)
        within = 2 / math.pi * (theta + math.sin(theta) * total)
    else:  # sin(theta) (1 + 1/2 cos^2 + 1.3/(2.4) cos^4 + ... + cos^(df-2))
        term = 1.0
        for k in range(df // 2):
            total += term
            term *= cos2 * (2 * k + 1) / (2 * k + 2)
        within = math.sin(theta) * total
    return (1 - within) / 2  # within = P(|T| <= t)


def t_critical(alpha: float, df: int) -> float:
    """The t with P(T > t) = alpha, by bisection."""
    low, high = 0.0, 1.0
    while t_upper_tail(high, df) > alpha:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if t_upper_tail(middle, df) > alpha else (low, middle)
    return (low + high) / 2


GROWS, STAYS = "grows", "does not grow"
VERDICTS = ("agrees", "opposite", "no clear trend", "n/a")


def verdict(rho: float, critical: float, claim: str = GROWS) -> str:
    """'agrees', 'opposite' or 'no clear trend' for a claim that a measure grows (rho reaches the
    critical value, or falls as far the other way, or neither), or that it does not grow (agrees
    unless rho reaches the critical value); 'n/a' when n is too small for any rho to count."""
    if math.isnan(critical):
        return "n/a"
    rises, falls = rho >= critical - TOLERANCE, rho <= -critical + TOLERANCE  # False for a constant series (NaN)
    if claim == STAYS:
        return "opposite" if rises else "agrees"
    return "agrees" if rises else "opposite" if falls else "no clear trend"


def trend(points: pd.DataFrame, claim: str) -> dict:
    """Spearman's rho between x and value of the means over seeds per key (one key per batch size or
    table row), its critical value and verdict, and the lowest and highest rho of single seeds.
    ``points``: one row per run with columns key, x, seed and value."""
    means = points.groupby("key", sort=False).agg(x=("x", "first"), value=("value", "mean")).dropna()
    rho, critical = spearman(means["x"], means["value"]), critical_rho(len(means))
    per_seed = [spearman(g["x"], g["value"]) for _, g in points.groupby("seed")] if points["seed"].nunique() > 1 else []
    per_seed = [r for r in per_seed if not math.isnan(r)]  # a seed whose measure is constant has none
    return {
        "n": len(means),
        "critical": critical,
        "rho": rho,
        "seed_min": min(per_seed, default=math.nan),
        "seed_max": max(per_seed, default=math.nan),
        "verdict": verdict(rho, critical, claim),
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
    return f"{COUNTED[top]} (+{growth[top]:g} of +{means['count'].iloc[-1] - means['count'].iloc[0]:g})"


# table measure -> the paper's column and how its values print
TABLE_MEASURES = {"train_loss": ("train_loss", "{:.4f}"), "test_error": ("test_error_pct", "{:.2f}")}
NUMERIC_TREND_COLUMNS = ["n", "critical", "rho", "seed_min", "seed_max", "paper_n", "paper_rho"]
TREND_COLUMNS = [
    "artifact",
    "dataset",
    "measure",
    "claim",
    "n",
    "critical",
    "rho",
    "seed_min",
    "seed_max",
    "verdict",
    "paper_n",
    "paper_rho",
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
        **{key: ours[key] for key in ("n", "critical", "rho", "seed_min", "seed_max", "verdict")},
        "paper_n": math.nan,
        "paper_rho": math.nan,
        "paper_verdict": "n/a: no numbers",
        "values": ", ".join(f"{key}: {number_format.format(v)}" for key, v in ours["means"]["value"].items()),
    }
    if paper_points is not None and len(paper_points):
        theirs = trend(paper_points, kind)
        row.update(paper_n=theirs["n"], paper_rho=theirs["rho"], paper_verdict=theirs["verdict"])
    return row


def trends(
    figure_totals: dict[str, pd.DataFrame], table_runs: dict[str, pd.DataFrame], reference: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per figure and dataset: does near-rank loss grow with batch size?  Per table: do the training
    loss and the test error (the generalization gap itself)?  For a table of switch runs (Table 11),
    the claim is that its test error does not grow with the starting batch size.  The paper's own
    numbers (``reference``, default the module's) are checked the same way where it gives them.

    ``figure_totals``: rank.total_counts per figure (finished runs); ``table_runs``: per table, the
    runs' summaries as tables.read_summaries gives them."""
    reference = reference_tables() if reference is None else reference
    rows = []
    for name, totals in figure_totals.items():
        for dataset, group in totals.groupby("dataset", sort=False):
            group = group.sort_values("batch_size", kind="stable")
            points = pd.DataFrame(
                {"key": group["batch_size"], "x": group["batch_size"], "seed": group["seed"], "value": group["count"]}
            )
            row = _row(name, dataset, "near-rank loss", "near-rank loss grows with batch size", GROWS, points, "{:g}")
            means = group.groupby("batch_size")[["count", *COUNTED]].mean().sort_index()
            rows.append(row | {"driven by": driver(means)})
            # side by side: the same claim had the count included the values an SVD never reports
            # (a batch larger than a layer), which grow with batch size by construction
            with_deficit = points.assign(value=group["count"] + group["deficit"])
            rows.append(
                _row(
                    name,
                    dataset,
                    "count + structural deficit",
                    "grows with batch size had the count included the structural deficit",
                    GROWS,
                    with_deficit,
                    "{:g}",
                )
                | {"driven by": ""}
            )
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
                | {"driven by": ""}
            )
    return pd.DataFrame(rows, columns=TREND_COLUMNS)


def compare(
    tables_csv: dict[str, Path],
    table_summaries: dict[str, list[Path]],
    figure_counts: dict[str, tuple[Path, float]],
    reported_loss: dict[str, str],
    reference: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every number of the tables beside the paper's, and every trend check (see ``trends``), from the
    files the pipeline wrote: per table its CSV and its runs' summaries, per figure the rankloss.csv
    of its experiment and its threshold (runs that did not finish ok are left out of the trends)."""
    from . import rank  # imports torch: this module stays light for the config checks

    reference = reference_tables() if reference is None else reference
    numbers = compare_tables({name: pd.read_csv(path) for name, path in tables_csv.items()}, reference)
    runs = {name: read_summaries(paths, reported_loss) for name, paths in table_summaries.items()}
    totals = {}
    for figure, (rankloss, threshold) in figure_counts.items():
        counts = rank.total_counts(pd.read_csv(rankloss), threshold)
        totals[figure] = counts[counts["status"] == status.OK]
    return numbers, trends(totals, runs, reference)


def criterion() -> str:
    """What 'agrees' means, as the comparison states it (critical values computed, not looked up)."""
    examples = ", ".join(f"{critical_rho(n):.3f} for n = {n}" for n in (4, 5, 6, EXACT_UP_TO + 1))
    return (
        "ρ is Spearman's rank correlation between batch size and the measure over the batch sizes run (with "
        "several seeds: of the seed means; the seed range is the lowest and highest ρ of single seeds). A claim "
        f"that a measure grows with batch size **agrees** when ρ reaches the one-sided {ALPHA:.0%} critical value "
        f"for its n points, the smallest ρ that at most {ALPHA:.0%} of the n! orderings of n untied values reach "
        f"(counted exactly up to n = {EXACT_UP_TO}, from Student's t with n − 2 degrees of freedom above: "
        f"{examples}); it is **opposite** when ρ ≤ −critical, and otherwise there is **no clear trend**. "
        "Table 11's claim, that switching to a small batch (128) closes the gap, is that its test error does "
        "not grow with the starting batch size, the small-batch baseline included: it agrees unless ρ reaches "
        "the critical value. With 3 points or fewer no ρ is that rare: n/a. The paper's ρ comes from its own "
        "numbers (reference_paper_tables.csv); it prints none for its figures."
    )


def _rho(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:+.3f}"


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
            "n": claims["n"],
            f"Critical ρ ({ALPHA:.0%})": claims["critical"].map(lambda c: "n/a" if math.isnan(c) else f"{c:.3f}"),
            "Our ρ": claims["rho"].map(_rho),
            "Seed range": [
                f"{_rho(lo)} to {_rho(hi)}" if not math.isnan(lo) else ""
                for lo, hi in zip(claims["seed_min"], claims["seed_max"])
            ],
            "Verdict": claims["verdict"],
            "Paper n": claims["paper_n"].map(lambda n: "" if math.isnan(n) else f"{n:.0f}"),
            "Paper ρ": claims["paper_rho"].map(_rho),
            "Paper verdict": claims["paper_verdict"],
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


def read_appendix_reference(path: Path = APPENDIX_REFERENCE) -> pd.DataFrame:
    """The paper's E sigma_min per table and size, with ``repeats``: the earlier paper table whose
    value for the same size is identical (a copy, not a measurement: A3's non-square m = 4000 rows
    are A2's)."""
    reference = pd.read_csv(path)
    order = {table: i for i, table in enumerate(reference["table"].unique())}
    earlier = reference.merge(reference, on=["m", "n", "expected_sigma_min"], suffixes=("", "_earlier"))
    earlier = earlier[earlier["table_earlier"].map(order) < earlier["table"].map(order)]
    repeats = earlier.groupby(["table", "m", "n"])["table_earlier"].agg(", ".join).rename("repeats")
    return reference.join(repeats, on=["table", "m", "n"]).fillna({"repeats": ""})


def compare_appendix(ours: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """The paper's value beside ours for every size both have (matched on distribution, m, n), with
    the difference, and ours' standard error: 2 SE is what 'within sampling noise' means here."""
    ours = ours.drop_duplicates(["distribution", "m", "n"])  # two appendix tables may share a distribution
    both = reference.merge(ours, on=["distribution", "m", "n"])
    ours_mean = both["sigma_min_mean"]
    return pd.DataFrame(
        {
            "table": both["table"],
            "distribution": both["distribution"],
            "m": both["m"],
            "n": both["n"],
            "paper": both["expected_sigma_min"],
            "ours": ours_mean,
            "ours_se": both["sigma_min_std"] / np.sqrt(both["repetitions"]),
            "repetitions": both["repetitions"],
            "diff": ours_mean - both["expected_sigma_min"],
            "diff_pct": 100 * (ours_mean - both["expected_sigma_min"]) / both["expected_sigma_min"],
            "edge": both["edge"],  # Proposition 1's lower edge s(sqrt(m) - sqrt(n)): where theory puts sigma_min
            "square": both["m"] == both["n"],
            "paper_repeats": both["repeats"],
        }
    )


def appendix_formatted(comparison: pd.DataFrame) -> pd.DataFrame:
    """The appendix comparison as its report shows it: 4 decimals, and why a row is set apart."""
    notes = [
        f"paper repeats Table {r}" if r else ("square" if square else "")
        for r, square in zip(comparison["paper_repeats"], comparison["square"])
    ]
    return pd.DataFrame(
        {
            "Table": comparison["table"],
            "Matrix size": size_labels(comparison),
            "Paper": comparison["paper"].map("{:.4f}".format),
            "Ours ± SE": [f"{o:.4f} ± {se:.4f}" for o, se in zip(comparison["ours"], comparison["ours_se"])],
            "Diff": comparison["diff"].map("{:+.4f}".format),
            "Diff %": comparison["diff_pct"].map("{:+.2f}".format),
            "s(√m − √n)": comparison["edge"].map("{:.4f}".format),
            "Note": notes,
        }
    )


def appendix_notes(comparison: pd.DataFrame, reference_rows: int) -> str:
    """What the comparison shows, in a few lines: the worst non-square deviation, the square sizes,
    the paper's repeated rows and the paper sizes this config did not compute."""
    lines = ["Our E σmin (mean over the repetitions, ± its standard error SE) beside the paper's Tables A1-A3."]
    measured = comparison[~comparison["square"] & (comparison["paper_repeats"] == "")]
    if len(measured):
        worst = measured.loc[measured["diff_pct"].abs().idxmax()]
        lines.append(
            f"Non-square sizes: max |diff| {abs(worst['diff_pct']):.2f}% "
            f"(Table {worst['table']}, {size_label(worst['m'], worst['n'])}); "
            f"{(measured['diff'].abs() <= 2 * measured['ours_se']).sum()} of {len(measured)} within 2 SE."
        )
    far = measured[measured["diff_pct"].abs() > 3]
    if len(far):
        # for large m and n, sigma_min concentrates just above Proposition 1's edge: which side is off?
        lines.append(
            "More than 3% apart: "
            + "; ".join(
                f"Table {r.table}, {size_label(r.m, r.n)}: the paper is {100 * (r.paper / r.edge - 1):+.1f}% from "
                f"s(√m − √n) = {r.edge:.4f}, ours {100 * (r.ours / r.edge - 1):+.1f}%"
                for r in far.itertuples()
            )
            + "."
        )
    square = comparison[comparison["square"]]
    if len(square):
        lines.append(
            f"Square sizes (σmin ≈ s/√m, with a spread as large as its mean: sampling noise dominates): "
            f"|diff| {square['diff_pct'].abs().min():.1f}% to {square['diff_pct'].abs().max():.1f}%."
        )
    repeated = comparison[comparison["paper_repeats"] != ""]
    if len(repeated):
        lines.append(
            f"{len(repeated)} rows are marked 'paper repeats': the paper prints the same number as another "
            f"of its tables for that size (a copy, not a measurement of this distribution); they are "
            f"left out of the summary above."
        )
    if reference_rows > len(comparison):
        lines.append(f"{reference_rows - len(comparison)} of the paper's sizes are not in this config.")
    return "\n\n".join(lines)
