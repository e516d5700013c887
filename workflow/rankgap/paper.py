"""The paper's own numbers: every value of its Tables 1-11 (reference_paper_tables.csv), which of
them a config's table stands beside (``paper_table``), and ours beside them, number by number
(``compare_tables``).  Whether the trends agree with the paper's claims is trends.py; the paper's
losses beside ours, paper_losses.py; the appendix's comparison, random_comparison.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .tables import batch_label

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
