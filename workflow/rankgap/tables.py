"""The paper's tables: train/test error and loss per batch size, from the runs' summaries, and the
appendix's E sigma_min per matrix size, beside the paper's values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

METRICS = ("train_error", "test_error", "train_loss", "test_loss")
HEADERS = {"train_error": "Train error", "test_error": "Test error", "train_loss": "Train loss", "test_loss": "Test loss"}


def read_summaries(paths: list[Path]) -> pd.DataFrame:
    """One row per run: its settings, status and final metrics."""
    rows = [json.loads(Path(p).read_text()) for p in paths]
    frame = pd.DataFrame(rows)
    frame["batch"] = [
        f"{r['batch_size']} → {r['switch']['batch_size']}" if r.get("switch") else str(r["batch_size"]) for r in rows
    ]
    return frame


def metrics_table(summaries: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds per batch size, in the order the runs were given."""
    groups = summaries.groupby("batch", sort=False)
    table = groups[list(METRICS)].mean()
    spread = groups[list(METRICS)].std().add_suffix("_std")
    table = table.join(spread)
    table["seeds"] = groups.size()
    table["status"] = groups["status"].agg(lambda s: "ok" if (s == "ok").all() else ", ".join(sorted(set(s) - {"ok"})))
    return table.reset_index()


def _cell(table: pd.DataFrame, row: int, metric: str) -> str:
    value, std = table.at[row, metric], table.at[row, metric + "_std"]
    if math.isnan(value):
        return table.at[row, "status"]
    text = f"{value:.2f}%" if metric.endswith("error") else f"{value:.4f}"
    if table.at[row, "seeds"] > 1 and not math.isnan(std):
        text += f" ± {std:.2f}" if metric.endswith("error") else f" ± {std:.4f}"
    return text


def formatted(table: pd.DataFrame) -> pd.DataFrame:
    """The table as the paper prints it, with mean ± std when there are several seeds."""
    shown = pd.DataFrame({"Batch size": table["batch"]})
    for metric in METRICS:
        shown[HEADERS[metric]] = [_cell(table, i, metric) for i in range(len(table))]
    if (table["status"] != "ok").any():
        shown["Status"] = table["status"]
    return shown


# LaTeX for the characters the tables print (longest first: σmin before σ)
LATEX = {"σmin": r"$\sigma_{\min}$", "σmax": r"$\sigma_{\max}$", "√m − √n": r"$\sqrt{m} - \sqrt{n}$",
         "→": r"$\rightarrow$", "±": r"$\pm$", "×": r"$\times$"}


def write(table: pd.DataFrame, csv: Path, md: Path, tex: Path | None, caption: str,
          shown: pd.DataFrame | None = None) -> None:
    """Every number of ``table`` to csv; ``shown`` (default: the metrics as the paper prints them) to
    md and, when ``tex`` is given, LaTeX."""
    table.to_csv(csv, index=False)
    shown = formatted(table) if shown is None else shown
    Path(md).write_text(f"{caption}\n\n{shown.to_markdown(index=False)}\n")
    if tex is not None:
        latex = shown.to_latex(index=False, caption=caption, escape=True)
        for text, command in LATEX.items():
            latex = latex.replace(text, command)
        Path(tex).write_text(latex)


def _size(m: int, n: int) -> str:
    return f"{m} × {n}"


def _sizes(frame: pd.DataFrame) -> list[str]:
    return [_size(m, n) for m, n in zip(frame["m"], frame["n"])]


def sigma_min_formatted(table: pd.DataFrame) -> pd.DataFrame:
    """Tables A1-A3 as the paper prints them (4 decimals), with the spread and the theory beside."""
    return pd.DataFrame({
        "Matrix size": _sizes(table),
        "E σmin(A)": table["sigma_min_mean"].map("{:.4f}".format),
        "std σmin": table["sigma_min_std"].map("{:.4f}".format),
        "E σmax(A)": table["sigma_max_mean"].map("{:.2f}".format),
        "s(√m − √n)": table["edge"].map("{:.4f}".format),
    })


def comparison_formatted(comparison: pd.DataFrame) -> pd.DataFrame:
    notes = [f"paper repeats Table {r}" if r else ("square" if square else "")
             for r, square in zip(comparison["paper_repeats"], comparison["square"])]
    return pd.DataFrame({
        "Table": comparison["table"], "Matrix size": _sizes(comparison),
        "Paper": comparison["paper"].map("{:.4f}".format),
        "Ours ± SE": [f"{o:.4f} ± {se:.4f}" for o, se in zip(comparison["ours"], comparison["ours_se"])],
        "Diff": comparison["diff"].map("{:+.4f}".format), "Diff %": comparison["diff_pct"].map("{:+.2f}".format),
        "s(√m − √n)": comparison["edge"].map("{:.4f}".format), "Note": notes,
    })


def comparison_notes(comparison: pd.DataFrame, reference_rows: int) -> str:
    """What the comparison shows, in a few lines: the worst non-square deviation, the square sizes,
    the paper's repeated rows and the paper sizes this config did not compute."""
    lines = ["Our E σmin (mean over the repetitions, ± its standard error SE) beside the paper's Tables A1-A3."]
    measured = comparison[~comparison["square"] & (comparison["paper_repeats"] == "")]
    if len(measured):
        worst = measured.loc[measured["diff_pct"].abs().idxmax()]
        lines.append(f"Non-square sizes: max |diff| {abs(worst['diff_pct']):.2f}% "
                     f"(Table {worst['table']}, {_size(worst['m'], worst['n'])}); "
                     f"{(measured['diff'].abs() <= 2 * measured['ours_se']).sum()} of {len(measured)} within 2 SE.")
    far = measured[measured["diff_pct"].abs() > 3]
    if len(far):
        # for large m and n, sigma_min concentrates just above Proposition 1's edge: which side is off?
        lines.append("More than 3% apart: " + "; ".join(
            f"Table {r.table}, {_size(r.m, r.n)}: the paper is {100 * (r.paper / r.edge - 1):+.1f}% from "
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
