"""The paper's figures: near-rank loss (count of singular values at or below a threshold, summed
over layers and HOSVD modes) against batch size, on a log scale; and the appendix's distributions of
the singular values of random matrices."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as ticker  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

COUNT_NOTE = ("count = singular values <= threshold reported by the SVD of every layer's unfoldings, summed over "
              "layers and modes; the structural deficit (batch larger than a layer) is not included")


def totals(rankloss: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Paper-style count per run (final epoch) at ``threshold``; NaN for runs that did not finish ok."""
    rows = rankloss[(rankloss["threshold"] == threshold) | rankloss["threshold"].isna()]
    rows = rows[rows["epoch"] == rows.groupby(["dataset", "batch_size", "seed"])["epoch"].transform("max")]
    keys = ["dataset", "batch_size", "seed", "status"]
    return rows.groupby(keys, sort=False, dropna=False)["count"].sum(min_count=1).reset_index()


def near_rank_loss(rankloss: pd.DataFrame, threshold: float, title: str, pdf: Path, png: Path) -> None:
    data = totals(rankloss, threshold)
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ok = data[data["status"] == "ok"]
    sns.lineplot(ok, x="batch_size", y="count", hue="dataset", style="dataset", markers=True, dashes=False,
                 errorbar="sd", err_style="bars", ax=ax)
    failed = data[data["status"] != "ok"]
    for _, row in failed.iterrows():
        ax.annotate(row["status"], (row["batch_size"], 0), textcoords="offset points", xytext=(0, 8),
                    ha="center", fontsize=7, color="crimson")
    ax.set_xscale("log", base=2)
    ax.set_yscale("symlog", linthresh=1)  # log scale that still shows a count of zero
    ax.set_ylim(bottom=0, top=max(10, 2 * data["count"].max(skipna=True) if data["count"].notna().any() else 10))
    ax.set_xlabel("batch size")
    ax.set_ylabel(f"singular values ≤ {threshold:g}")
    ax.set_title(textwrap.fill(title, 60), fontsize=9)
    batch_sizes = sorted(data["batch_size"].unique())
    ax.set_xticks(batch_sizes, [str(b) for b in batch_sizes], rotation=45)
    fig.text(0.01, 0.005, COUNT_NOTE, fontsize=5, wrap=True)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    save(fig, pdf, png)


def save(fig: plt.Figure, pdf: Path, png: Path) -> None:
    fig.savefig(pdf)
    fig.savefig(png, dpi=150)
    plt.close(fig)


def singular_value_panels(spectra: dict[tuple[int, int], np.ndarray], title: str) -> plt.Figure:
    """One panel per size, a row per m and a column per n, as in the paper's Figures A1-A3: the
    histogram of every singular value of every repetition, on a log axis (the small ones are the
    point), with each repetition's sigma_min as a tick below and their mean as a dashed line."""
    rows = {}
    for m, n in spectra:
        rows.setdefault(m, []).append(n)
    columns = max(len(ns) for ns in rows.values())
    fig, axes = plt.subplots(len(rows), columns, figsize=(3 * columns, 2.3 * len(rows) + 0.6), squeeze=False)
    for row, (m, ns) in zip(axes, rows.items()):
        for ax, n in zip(row, ns):
            values = spectra[(m, n)]
            sigma_min = values[:, -1]
            sns.histplot(values.ravel(), bins=50, log_scale=True, stat="percent", element="step", ax=ax)
            sns.rugplot(sigma_min, color="crimson", height=0.06, ax=ax)
            ax.axvline(sigma_min.mean(), color="crimson", linestyle="--", linewidth=1)
            ax.set_title(f"{m} × {n}: E σmin = {sigma_min.mean():.4g}", fontsize=8)
            ax.set_xlabel("singular value", fontsize=7)
            ax.set_ylabel("% of values", fontsize=7)
            # plain numbers (30, not 3×10^1): a panel spanning less than a decade labels its minor ticks
            ax.xaxis.set_major_formatter(ticker.LogFormatter())
            ax.xaxis.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False))
            ax.tick_params(which="both", labelsize=6)
        for ax in row[len(ns):]:  # a shorter row leaves its last panels empty
            fig.delaxes(ax)
    fig.suptitle(textwrap.fill(title, 140), fontsize=9)
    fig.tight_layout()
    return fig
