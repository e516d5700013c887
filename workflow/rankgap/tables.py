"""The paper's tables: train/test error and loss per batch size, from the runs' summaries, and the
appendix's E sigma_min per matrix size."""

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


def size_label(m: int, n: int) -> str:
    return f"{m} × {n}"


def size_labels(frame: pd.DataFrame) -> list[str]:
    """'m × n' for each row of a frame with columns m and n."""
    return [size_label(m, n) for m, n in zip(frame["m"], frame["n"])]


def sigma_min_formatted(table: pd.DataFrame) -> pd.DataFrame:
    """Tables A1-A3 as the paper prints them (4 decimals), with the spread and the theory beside."""
    return pd.DataFrame({
        "Matrix size": size_labels(table),
        "E σmin(A)": table["sigma_min_mean"].map("{:.4f}".format),
        "std σmin": table["sigma_min_std"].map("{:.4f}".format),
        "E σmax(A)": table["sigma_max_mean"].map("{:.2f}".format),
        "s(√m − √n)": table["edge"].map("{:.4f}".format),
    })
