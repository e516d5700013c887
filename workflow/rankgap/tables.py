"""The paper's tables: train/test error and loss per batch size, from the runs' summaries, and the
appendix's E sigma_min per matrix size; and the table of every run of a config."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from . import status
from .provenance import trained_at

# A table's columns: errors, and the losses the config's `reported_loss` chooses per split (the
# paper's "Train loss" and "Test loss", whose kind it does not say; see REPORTED_LOSS)
METRICS = ("train_error", "test_error", "train_loss", "test_loss")
HEADERS = {
    "train_error": "Train error",
    "test_error": "Test error",
    "train_loss": "Train loss",
    "test_loss": "Test loss",
}
# Both kinds of loss a run records (train.losses), kept in every table's CSV whichever one train_loss
# and test_loss show
LOSSES = ("train_cross_entropy", "test_cross_entropy", "train_objective", "test_objective", "weight_penalty")
# config `reported_loss` {train: kind, test: kind}: the kind the tables' train_loss and test_loss
# (and the comparison) are, per split
REPORTED_LOSS = {
    "objective": "cross-entropy plus the weight-decay penalty λ/2·‖θ‖² over all parameters "
    "(the objective SGD with weight decay λ minimises)",
    "cross_entropy": "cross-entropy alone (without the weight-decay penalty)",
}
SPLITS = ("train", "test")


def describe_loss(reported_loss: dict[str, str]) -> str:
    """What the tables' losses are, in words: one kind for both splits, or one per split."""
    if reported_loss["train"] == reported_loss["test"]:
        return f"{REPORTED_LOSS[reported_loss['train']]}, train and test"
    return "; ".join(f"{split}: {REPORTED_LOSS[reported_loss[split]]}" for split in SPLITS)


def batch_label(batch_size: int, switch_to: int | None = None) -> str:
    """A row's batch size as the paper prints it: "128", or "128 → 8192" for a run that switches (Table 11)."""
    return f"{batch_size} → {switch_to}" if switch_to else str(batch_size)


def read_summaries(paths: list[Path], reported_loss: dict[str, str]) -> pd.DataFrame:
    """One row per run: its settings, status and final metrics.  ``train_loss`` and ``test_loss``
    are the loss ``reported_loss`` names for each split (see REPORTED_LOSS); both kinds are kept
    beside them."""
    for split in SPLITS:
        if reported_loss.get(split) not in REPORTED_LOSS:
            raise ValueError(
                f"reported_loss.{split} is {reported_loss.get(split)!r}; expected one of {', '.join(REPORTED_LOSS)}"
            )
    rows = []
    for path in paths:
        row = json.loads(Path(path).read_text())
        missing = [key for key in LOSSES if key not in row]
        if missing:
            raise ValueError(
                f"{path} has no {', '.join(missing)}: it was written by older training code, which "
                f"named the cross-entropy train_loss/test_loss or recorded it alone. Delete it and rerun "
                f"its training."
            )
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["batch"] = [batch_label(r["batch_size"], (r.get("switch") or {}).get("batch_size")) for r in rows]
    for split in SPLITS:
        frame[f"{split}_loss"] = frame[f"{split}_{reported_loss[split]}"]
    return frame


def metrics_table(summaries: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds per batch size, in the order the runs were given."""
    groups = summaries.groupby("batch", sort=False)
    columns = [*METRICS, *LOSSES]
    table = groups[columns].mean()
    spread = groups[columns].std().add_suffix("_std")
    table = table.join(spread)
    table["seeds"] = groups.size()
    table["status"] = groups["status"].agg(status.combined)
    return table.reset_index()


def loss_caption(caption: str, reported_loss: dict[str, str]) -> str:
    """A table's caption with the line saying which loss it shows."""
    return f"{caption.rstrip('.')}. Loss: {describe_loss(reported_loss)}."


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
    if (table["status"] != status.OK).any():
        shown["Status"] = table["status"]
    return shown


# The runs table's first columns (then every other setting of the runs, by name); the losses are
# final, on the whole splits in eval mode
RUN_COLUMNS = [
    "experiment",
    "dataset",
    "model",
    "batch_size",
    "seed",
    "status",
    "epochs_completed",
    "epochs",
    "train_error",
    "test_error",
    "train_cross_entropy",
    "test_cross_entropy",
    "wall_seconds",
    "device",
    "host",
    "commit",
    "dirty",
    "changed_during_run",
]


def runs_table(runs: list[dict]) -> pd.DataFrame:
    """One row per run (``runs``: per run, its ``wildcards``: experiment, dataset, batch size, seed,
    and its ``summary`` file): the wildcards beside the summary, in ``RUN_COLUMNS`` and then every
    other setting (mappings and lists as JSON).  A run's code is the commit it started at
    (``provenance.trained_at``)."""
    rows = []
    for run in runs:
        summary = json.loads(Path(run["summary"]).read_text())
        git = trained_at(summary.pop("git", None))
        summary.pop("versions")  # library versions: the same for every run of a machine, and nested
        row = {**summary, **run["wildcards"], **git}
        rows.append(
            {key: json.dumps(value) if isinstance(value, (dict, list)) else value for key, value in row.items()}
        )
    frame = pd.DataFrame(rows)
    return frame[RUN_COLUMNS + [column for column in frame.columns if column not in RUN_COLUMNS]]


def runs_formatted(table: pd.DataFrame) -> pd.DataFrame:
    """The runs table as its markdown shows it: which run, how it ended, where and with what code."""

    def commit(row) -> str:
        if not isinstance(row["commit"], str):
            return "unknown"
        return (
            row["commit"][:10]
            + (" (uncommitted changes)" if row["dirty"] else "")
            + (" (code changed during the run)" if row["changed_during_run"] else "")
        )

    return pd.DataFrame(
        {
            "Experiment": table["experiment"],
            "Dataset": table["dataset"],
            "Model": table["model"],
            "Batch size": table["batch_size"].astype(str),
            "Seed": table["seed"].astype(str),
            "Status": table["status"],
            "Epochs": [f"{done}/{total}" for done, total in zip(table["epochs_completed"], table["epochs"])],
            "Train error": table["train_error"].map("{:.2f}%".format),
            "Test error": table["test_error"].map("{:.2f}%".format),
            "Wall time": table["wall_seconds"].map("{:.0f} s".format),
            "Device": table["device"],
            "Commit": [commit(row) for _, row in table.iterrows()],
        }
    )


# LaTeX for the characters the tables print (longest first: σmin before σ)
LATEX = {
    "σmin": r"$\sigma_{\min}$",
    "σmax": r"$\sigma_{\max}$",
    "√m − √n": r"$\sqrt{m} - \sqrt{n}$",
    "λ/2·‖θ‖²": r"$\lambda/2 \cdot \|\theta\|^2$",
    "λ": r"$\lambda$",
    "→": r"$\rightarrow$",
    "±": r"$\pm$",
    "×": r"$\times$",
}


def write(
    table: pd.DataFrame, csv: Path, md: Path, tex: Path | None, caption: str, shown: pd.DataFrame | None = None
) -> None:
    """Every number of ``table`` to csv; ``shown`` (default: the metrics as the paper prints them) to
    md and, when ``tex`` is given, LaTeX."""
    table.to_csv(csv, index=False)
    shown = formatted(table) if shown is None else shown
    # numbers as formatted ("0.0700", "+0.01"), not re-parsed and re-printed by tabulate ("0.07", "0.01")
    Path(md).write_text(f"{caption}\n\n{shown.to_markdown(index=False, disable_numparse=True)}\n")
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
    return pd.DataFrame(
        {
            "Matrix size": size_labels(table),
            "E σmin(A)": table["sigma_min_mean"].map("{:.4f}".format),
            "std σmin": table["sigma_min_std"].map("{:.4f}".format),
            "E σmax(A)": table["sigma_max_mean"].map("{:.2f}".format),
            "s(√m − √n)": table["edge"].map("{:.4f}".format),
        }
    )
