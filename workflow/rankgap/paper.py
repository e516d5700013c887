"""The paper's own numbers beside ours: every value of Tables 1-11, and whether each figure's trend
agrees with the paper's claims (near-rank loss and training loss grow with batch size).

A config table named ``tableN`` is compared with the paper's Table N; figures are checked for the
trend whatever their name.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

REFERENCE = Path(__file__).with_name("reference_paper_tables.csv")
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
