"""The paper's own numbers beside ours: every value of Tables 1-11, whether each figure's trend
agrees with the paper's claims (near-rank loss and training loss grow with batch size), and the
appendix's E sigma_min (Tables A1-A3) per matrix size.

A config table named ``tableN`` is compared with the paper's Table N; figures are checked for the
trend whatever their name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .tables import size_label, size_labels

REFERENCE = Path(__file__).with_name("reference_paper_tables.csv")
APPENDIX_REFERENCE = Path(__file__).with_name("reference_random_matrices.csv")  # Tables A1-A3
METRICS = {"train_error_pct": "train_error", "test_error_pct": "test_error", "train_loss": "train_loss",
           "test_loss": "test_loss"}


def reference_tables() -> pd.DataFrame:
    reference = pd.read_csv(REFERENCE)
    switched = reference["switch_to"].notna()
    reference["batch"] = reference["batch_size"].astype(str)
    reference.loc[switched, "batch"] = (reference["batch_size"].astype(str) + " → "
                                        + reference["switch_to"].astype("Int64").astype(str))[switched]
    return reference


def compare_tables(ours: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per number the paper reports for the tables we built: paper, ours, difference."""
    rows = []
    for _, ref in reference_tables().iterrows():
        table = ours.get(f"table{ref['table']}")
        if table is None:
            continue
        match = table[table["batch"].astype(str) == ref["batch"]]
        for paper_metric, our_metric in METRICS.items():
            value = match[our_metric].iloc[0] if len(match) else float("nan")
            rows.append({"artifact": f"table{ref['table']}", "model": ref["model"], "dataset": ref["dataset"],
                         "variant": ref["variant"], "batch": ref["batch"], "metric": our_metric,
                         "paper": ref[paper_metric], "ours": value, "difference": value - ref[paper_metric],
                         "status": match["status"].iloc[0] if len(match) else "not run"})
    return pd.DataFrame(rows)


def grows(values: pd.Series) -> str:
    """'yes' if a series (ordered by batch size) never decreases and ends higher than it starts."""
    values = values.dropna()
    if len(values) < 2:
        return "n/a"
    return "yes" if values.is_monotonic_increasing and values.iloc[-1] > values.iloc[0] else "no"


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


def trends(figure_totals: dict[str, pd.DataFrame], tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per figure and dataset: does near-rank loss grow with batch size?  Per table: does the
    training loss?  (The paper claims both.)"""
    rows = []
    for name, totals in figure_totals.items():
        for dataset, group in totals.groupby("dataset", sort=False):
            means = group.groupby("batch_size")[["count", *COUNTED]].mean().sort_index()
            by_batch = means["count"]
            rows.append({"artifact": name, "dataset": dataset, "claim": "near-rank loss grows with batch size",
                         "values": ", ".join(f"{b}: {v:g}" for b, v in by_batch.items()), "agrees": grows(by_batch),
                         "driven by": driver(means)})
    for name, table in tables.items():
        plain = table[~table["batch"].astype(str).str.contains("→")]
        by_batch = plain.set_index(plain["batch"].astype(int))["train_loss"].sort_index()
        rows.append({"artifact": name, "dataset": "", "claim": "train loss grows with batch size",
                     "values": ", ".join(f"{b}: {v:.4f}" for b, v in by_batch.items()), "agrees": grows(by_batch),
                     "driven by": ""})
    return pd.DataFrame(rows, columns=["artifact", "dataset", "claim", "values", "agrees", "driven by"])


def write(numbers: pd.DataFrame, claims: pd.DataFrame, csv: Path, md: Path) -> None:
    numbers.to_csv(csv, index=False)
    agree = (claims["agrees"] == "yes").sum()
    text = [
        "# The paper beside this run",
        "",
        "## Trends the paper claims",
        "",
        f"{agree} of {len(claims)} checks agree with the paper's claims.",
        "",
        claims.to_markdown(index=False) if len(claims) else "(no tables or figures in this config)",
        "",
        "## Every number of the paper's tables",
        "",
    ]
    if len(numbers):
        shown = numbers.assign(paper=numbers["paper"].map("{:g}".format), ours=numbers["ours"].map("{:.4g}".format),
                               difference=numbers["difference"].map("{:+.4g}".format))
        text.append(shown.to_markdown(index=False))
    else:
        text.append("No table of this config is named after one of the paper's (table1 ... table11).")
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
    return pd.DataFrame({
        "table": both["table"], "distribution": both["distribution"], "m": both["m"], "n": both["n"],
        "paper": both["expected_sigma_min"], "ours": ours_mean,
        "ours_se": both["sigma_min_std"] / np.sqrt(both["repetitions"]), "repetitions": both["repetitions"],
        "diff": ours_mean - both["expected_sigma_min"],
        "diff_pct": 100 * (ours_mean - both["expected_sigma_min"]) / both["expected_sigma_min"],
        "edge": both["edge"],  # Proposition 1's lower edge s(sqrt(m) - sqrt(n)): where theory puts sigma_min
        "square": both["m"] == both["n"], "paper_repeats": both["repeats"],
    })


def appendix_formatted(comparison: pd.DataFrame) -> pd.DataFrame:
    """The appendix comparison as its report shows it: 4 decimals, and why a row is set apart."""
    notes = [f"paper repeats Table {r}" if r else ("square" if square else "")
             for r, square in zip(comparison["paper_repeats"], comparison["square"])]
    return pd.DataFrame({
        "Table": comparison["table"], "Matrix size": size_labels(comparison),
        "Paper": comparison["paper"].map("{:.4f}".format),
        "Ours ± SE": [f"{o:.4f} ± {se:.4f}" for o, se in zip(comparison["ours"], comparison["ours_se"])],
        "Diff": comparison["diff"].map("{:+.4f}".format), "Diff %": comparison["diff_pct"].map("{:+.2f}".format),
        "s(√m − √n)": comparison["edge"].map("{:.4f}".format), "Note": notes,
    })


def appendix_notes(comparison: pd.DataFrame, reference_rows: int) -> str:
    """What the comparison shows, in a few lines: the worst non-square deviation, the square sizes,
    the paper's repeated rows and the paper sizes this config did not compute."""
    lines = ["Our E σmin (mean over the repetitions, ± its standard error SE) beside the paper's Tables A1-A3."]
    measured = comparison[~comparison["square"] & (comparison["paper_repeats"] == "")]
    if len(measured):
        worst = measured.loc[measured["diff_pct"].abs().idxmax()]
        lines.append(f"Non-square sizes: max |diff| {abs(worst['diff_pct']):.2f}% "
                     f"(Table {worst['table']}, {size_label(worst['m'], worst['n'])}); "
                     f"{(measured['diff'].abs() <= 2 * measured['ours_se']).sum()} of {len(measured)} within 2 SE.")
    far = measured[measured["diff_pct"].abs() > 3]
    if len(far):
        # for large m and n, sigma_min concentrates just above Proposition 1's edge: which side is off?
        lines.append("More than 3% apart: " + "; ".join(
            f"Table {r.table}, {size_label(r.m, r.n)}: the paper is {100 * (r.paper / r.edge - 1):+.1f}% from "
            f"s(√m − √n) = {r.edge:.4f}, ours {100 * (r.ours / r.edge - 1):+.1f}%" for r in far.itertuples()) + ".")
    square = comparison[comparison["square"]]
    if len(square):
        lines.append(f"Square sizes (σmin ≈ s/√m, with a spread as large as its mean: sampling noise dominates): "
                     f"|diff| {square['diff_pct'].abs().min():.1f}% to {square['diff_pct'].abs().max():.1f}%.")
    repeated = comparison[comparison["paper_repeats"] != ""]
    if len(repeated):
        lines.append(f"{len(repeated)} rows are marked 'paper repeats': the paper prints the same number as another "
                     f"of its tables for that size (a copy, not a measurement of this distribution); they are "
                     f"left out of the summary above.")
    if reference_rows > len(comparison):
        lines.append(f"{reference_rows - len(comparison)} of the paper's sizes are not in this config.")
    return "\n\n".join(lines)
