"""The appendix against the paper (rule random_comparison): our E sigma_min of random matrices
beside the paper's Tables A1-A3, per matrix size, with its standard error and Proposition 1's edge."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .tables import size_label, size_labels

REFERENCE = Path(__file__).with_name("reference_random_matrices.csv")  # the paper's Tables A1-A3


def read_reference(path: Path = REFERENCE) -> pd.DataFrame:
    """The paper's E sigma_min per table and size, with ``repeats``: the earlier paper table whose
    value for the same size is identical (a copy, not a measurement: A3's non-square m = 4000 rows
    are A2's)."""
    reference = pd.read_csv(path)
    order = {table: i for i, table in enumerate(reference["table"].unique())}
    earlier = reference.merge(reference, on=["m", "n", "expected_sigma_min"], suffixes=("", "_earlier"))
    earlier = earlier[earlier["table_earlier"].map(order) < earlier["table"].map(order)]
    repeats = earlier.groupby(["table", "m", "n"])["table_earlier"].agg(", ".join).rename("repeats")
    return reference.join(repeats, on=["table", "m", "n"]).fillna({"repeats": ""})


def compare(ours: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
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


def formatted_comparison(comparison: pd.DataFrame) -> pd.DataFrame:
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


def notes(comparison: pd.DataFrame, reference_rows: int) -> str:
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
