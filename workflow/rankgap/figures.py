"""The paper's figures: near-rank loss (count of singular values at or below a threshold, summed
over layers and HOSVD modes) against batch size, on a log scale; and the appendix's distributions of
the singular values of random matrices."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as ticker  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from . import rank, status  # noqa: E402

COUNT_NOTE = (
    "count = singular values <= threshold reported by the SVD of every layer's unfoldings, summed over "
    "layers and modes; the structural deficit (batch larger than a layer) is not included"
)


def _count_axis(ax, data: pd.DataFrame, threshold: float) -> None:
    ax.set_yscale("symlog", linthresh=1)  # log scale that still shows a count of zero
    top = data["count"].max(skipna=True) if data["count"].notna().any() else 0
    ax.set_ylim(bottom=0, top=max(10, 2 * top))
    ax.set_ylabel(f"singular values ≤ {threshold:g}")


def _save(fig, title: str, pdf: Path, png: Path, note: str = COUNT_NOTE) -> None:
    fig.suptitle(textwrap.fill(title, 70), fontsize=9)
    fig.text(0.01, 0.005, note, fontsize=5, wrap=True)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    save(fig, pdf, png)


def save(fig: plt.Figure, pdf: Path, png: Path) -> None:
    fig.savefig(pdf)
    fig.savefig(png, dpi=150)
    plt.close(fig)


def near_rank_loss(rankloss: pd.DataFrame, threshold: float, probe: str, title: str, pdf: Path, png: Path) -> None:
    """The paper's figures: the count at the end of training against batch size on ``probe``, one
    line per dataset; beside it, dashed, the same count on the untrained network (epoch 0, where
    probed): what the architecture and the probe give with no training."""
    data = rank.total_counts(rankloss, threshold, probe)
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ok = data[data["status"] == status.OK]
    every_epoch = rank.total_counts(rankloss, threshold, probe, last_epoch_only=False)
    untrained = every_epoch[(every_epoch["epoch"] == 0) & (every_epoch["epoch"] < every_epoch["epoch"].max())]
    if len(untrained):
        sns.lineplot(
            untrained.assign(dataset=untrained["dataset"] + " untrained (epoch 0)"),
            x="batch_size",
            y="count",
            hue="dataset",
            palette=["grey"] * untrained["dataset"].nunique(),
            linestyle="--",
            errorbar="sd",
            err_style="bars",
            ax=ax,
        )
    sns.lineplot(
        ok,
        x="batch_size",
        y="count",
        hue="dataset",
        style="dataset",
        markers=True,
        dashes=False,
        errorbar="sd",
        err_style="bars",
        ax=ax,
    )
    for _, row in data[data["status"] != status.OK].iterrows():
        ax.annotate(
            row["status"],
            (row["batch_size"], 0),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=7,
            color="crimson",
        )
    ax.set_xscale("log", base=2)
    batch_sizes = sorted(data["batch_size"].unique())
    ax.set_xticks(batch_sizes, [str(b) for b in batch_sizes], rotation=45)
    ax.set_xlabel("batch size")
    _count_axis(ax, pd.concat([data, untrained]), threshold)  # room for the untrained line too
    _save(fig, title, pdf, png)


def over_training(rankloss: pd.DataFrame, threshold: float, probe: str, title: str, pdf: Path, png: Path) -> None:
    """Beyond the paper: the count at each probed epoch on ``probe``, one line per batch size, a panel
    per dataset."""
    data = rank.total_counts(rankloss, threshold, probe, last_epoch_only=False)
    datasets = list(data["dataset"].unique())
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 3.6), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        ok = data[(data["dataset"] == dataset) & (data["status"] == status.OK)]
        sns.lineplot(
            ok,
            x="epoch",
            y="count",
            hue="batch_size",
            palette="viridis",
            marker="o",
            errorbar="sd",
            err_style="bars",
            legend="full",
            ax=ax,
        )
        failed = data[(data["dataset"] == dataset) & (data["status"] != status.OK)]["batch_size"].unique()
        if len(failed):
            ax.text(
                0.02,
                0.95,
                "not finished: batch " + ", ".join(map(str, failed)),
                transform=ax.transAxes,
                fontsize=7,
                color="crimson",
                va="top",
            )
        ax.set_title(dataset, fontsize=9)
        ax.set_xlabel("epoch (0: initialisation)")
        _count_axis(ax, data, threshold)
    _save(fig, title, pdf, png)


COMPONENT_LABELS = {
    "dead_zeros": "zeros from dead units / samples",
    "other_zeros": "other exact zeros",
    "genuine": "genuine near-rank loss",
    "deficit": "structural deficit (not counted)",
}


def components(rankloss: pd.DataFrame, threshold: float, probe: str, title: str, pdf: Path, png: Path) -> None:
    """What the count on ``probe`` is made of, stacked per batch size (mean over seeds), a panel per
    dataset; the paper-style count is the top of the first three; the deficit sits above it, hatched."""
    data = rank.total_counts(rankloss, threshold, probe)
    data = data[data["status"] == status.OK].groupby(["dataset", "batch_size"], sort=False).mean(numeric_only=True)
    datasets = list(data.index.get_level_values("dataset").unique())
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 3.8), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        table = data.loc[dataset].sort_index()
        _stacked_components(ax, table, [str(b) for b in table.index], rotation=45)
        ax.set_xlabel("batch size")
        ax.set_ylabel(f"singular values ≤ {threshold:g}")
        ax.set_title(dataset, fontsize=9)
    axes[0][0].legend(fontsize=6)
    _save(fig, title, pdf, png)


def _stacked_components(ax, table: pd.DataFrame, labels: list[str], rotation: int) -> None:
    """One bar per row of ``table``: the count's parts stacked, the deficit above them hatched, and
    the paper-style count as a black tick."""
    positions = range(len(table))
    bottom = pd.Series(0.0, index=table.index)
    for color, (component, label) in zip(sns.color_palette("deep", 4), COMPONENT_LABELS.items()):
        ax.bar(
            positions,
            table[component],
            bottom=bottom,
            color=color,
            label=label,
            hatch="//" if component == "deficit" else None,
            alpha=0.5 if component == "deficit" else 1,
        )
        bottom += table[component]
    ax.plot(positions, table["count"], "k_", markersize=18, label="paper-style count")
    ax.set_xticks(list(positions), labels, rotation=rotation)


LAYER_NOTE = (
    "count = singular values <= threshold reported by the SVD of a layer's unfoldings, summed over its "
    "modes; the structural deficit (batch larger than a layer) is not included"
)


def layer_components(counts: pd.DataFrame, title: str, pdf: Path, png: Path) -> None:
    """One model on one batch (``rankgap-measure``): the count and its parts per layer, in forward
    order, summed over modes, a panel per threshold."""
    summed = counts.groupby(["threshold", "depth", "layer"])[["count", *rank.COMPONENTS]].sum()
    thresholds = sorted(counts["threshold"].unique(), reverse=True)
    width = max(5, 2 + 0.3 * counts["layer"].nunique())
    fig, axes = plt.subplots(1, len(thresholds), figsize=(width * len(thresholds), 4.4), squeeze=False)
    for ax, threshold in zip(axes[0], thresholds):
        table = summed.loc[threshold]
        _stacked_components(ax, table, list(table.index.get_level_values("layer")), rotation=90)
        ax.set_yscale("symlog", linthresh=1)  # a count of a few beside a deficit of thousands, and zeros
        ax.set_ylim(bottom=0, top=max(10, 2 * (table["count"] + table["deficit"]).max()))  # room above the bars
        ax.set_xlabel("layer (forward order)")
        ax.set_ylabel(f"singular values ≤ {threshold:g}")
    axes[0][0].legend(fontsize=6)
    _save(fig, title, pdf, png, LAYER_NOTE)


PLOTS = {"batch_size": near_rank_loss, "epoch": over_training, "components": components}


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
        for ax in row[len(ns) :]:  # a shorter row leaves its last panels empty
            fig.delaxes(ax)
    fig.suptitle(textwrap.fill(title, 140), fontsize=9)
    fig.tight_layout()
    return fig
