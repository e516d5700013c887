"""The paper's figures: near-rank loss (count of singular values at or below a threshold, summed
over layers and HOSVD modes) against batch size, on a log scale; and the appendix's distributions of
the singular values of random matrices."""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as ticker  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.textpath import text_to_path  # noqa: E402

from . import measures, rankloss, status  # noqa: E402

MIN_FONTSIZE = 8  # pt: no text in a figure is smaller (a footnote included)
TITLE_FONTSIZE = 10
NOTE_FONTSIZE = 8

COUNT_NOTE = (
    r"count: singular values ≤ $t_{\mathrm{th}}$ in the SVD of every layer's unfoldings, summed over layers "
    "and modes; the structural deficit (batch larger than a layer) is not counted"
)


def threshold_tex(threshold: float) -> str:
    """``threshold`` as mathtext without its dollars: 1e-4 as 10^{-4}, 2.5e-5 as 2.5 × 10^{-5}."""
    if threshold == 0 or 1e-2 <= abs(threshold) < 1e4:
        return f"{threshold:g}"
    exponent = math.floor(math.log10(abs(threshold)))
    mantissa = float(f"{threshold / 10**exponent:.3g}")
    if abs(mantissa) == 10:  # 9.9996e-5 rounds up to the next power
        mantissa, exponent = mantissa / 10, exponent + 1
    power = f"10^{{{exponent}}}"
    return power if mantissa == 1 else f"{mantissa:g} \\times {power}"


def count_label(threshold: float) -> str:
    """The count axis' label: what is counted, with the threshold as a power of ten."""
    return f"singular values ≤ ${threshold_tex(threshold)}$"


_THRESHOLD = re.compile(r"\bt_th\s*=\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")
_MATH = re.compile(r"\$[^$]*\$")


def mathtext(text: str) -> str:
    r"""A caption's plain-text threshold (``t_th = 1e-4``, as configs write it) as mathtext:
    ``$t_{\mathrm{th}} = 10^{-4}$``, with its subscript, one piece that no wrapping splits."""
    return _THRESHOLD.sub(lambda m: rf"$t_{{\mathrm{{th}}}} = {threshold_tex(float(m.group(1)))}$", text)


def text_width(text: str, fontsize: float) -> float:
    """How wide ``text`` is drawn at ``fontsize`` (mathtext where it has a pair of dollars), in inches."""
    ismath = len(_MATH.findall(text)) > 0
    width, _, _ = text_to_path.get_text_width_height_descent(text, FontProperties(size=fontsize), ismath=ismath)
    return float(width) / 72


def wrap(text: str, width: float, fontsize: float, phrases: bool = True) -> str:
    """``text`` (its thresholds as mathtext) in lines no wider than ``width`` inches at ``fontsize``,
    never broken inside a mathtext expression; with ``phrases``, broken only between phrases (after a
    comma, colon or semicolon) where that can be, and between words only inside a phrase longer than a
    line; without, between any words."""
    keep = "\x00"  # stands for a space inside $...$ while wrapping
    text = _MATH.sub(lambda m: m.group(0).replace(" ", keep), mathtext(text))

    def fits(line: str) -> bool:
        return text_width(line.replace(keep, " "), fontsize) <= width

    def pack(pieces: list[str], lines: list[str]) -> None:
        for piece in pieces:
            if lines and fits(f"{lines[-1]} {piece}"):
                lines[-1] += " " + piece
            elif fits(piece) or " " not in piece:
                lines.append(piece)
            else:  # a phrase longer than a line: by words
                pack(piece.split(" "), lines)

    lines: list[str] = []
    pack(re.split(r"(?<=[,:;])\s+", text) if phrases else text.split(), lines)
    return "\n".join(lines).replace(keep, " ")


def batch_size_colours(batch_sizes) -> dict[int, tuple[float, float, float]]:
    """A colour per batch size from a categorical palette (seaborn's colorblind: distinct hues), in
    order of size; figures of one experiment pass every batch size it has (failed runs and other
    panels' included), so that a batch size has the same colour in each of them."""
    sizes = sorted({int(b) for b in batch_sizes})
    palette = sns.color_palette("colorblind" if len(sizes) <= 10 else "husl", len(sizes))
    return dict(zip(sizes, palette))


def _count_axis(ax, data: pd.DataFrame, threshold: float) -> None:
    ax.set_yscale("symlog", linthresh=1)  # log scale that still shows a count of zero
    top = data["count"].max(skipna=True) if data["count"].notna().any() else 0
    ax.set_ylim(bottom=-0.4, top=max(10, 2 * top))  # below 0: a count of zero is a line above the axis
    ax.set_ylabel(count_label(threshold))


def _save(fig, title: str, pdf: Path, png: Path, note: str = COUNT_NOTE) -> None:
    """The title and the footnote, each wrapped to the figure's width, the figure grown by the
    footnote's height so that the axes keep theirs; then saved."""
    width, height = fig.get_size_inches()
    note = wrap(note, width - 0.2, NOTE_FONTSIZE, phrases=False)
    note_height = (note.count("\n") + 1) * NOTE_FONTSIZE * 1.3 / 72 + 0.1  # inches
    fig.set_size_inches(width, height + note_height)
    fig.suptitle(wrap(title, width - 0.4, TITLE_FONTSIZE), fontsize=TITLE_FONTSIZE)
    fig.text(0.01, 0.01, note, fontsize=NOTE_FONTSIZE, va="bottom", ha="left")
    fig.tight_layout(rect=(0, note_height / (height + note_height), 1, 1))
    save(fig, pdf, png)


def save(fig: plt.Figure, pdf: Path, png: Path) -> None:
    fig.savefig(pdf)
    fig.savefig(png, dpi=150)
    plt.close(fig)


def near_rank_loss(counts: pd.DataFrame, threshold: float, probe: str, title: str, pdf: Path, png: Path) -> None:
    """The paper's figures: the count at the end of training against batch size on ``probe``, one
    line per dataset; beside it, dashed in the dataset's colour, the same count on the untrained
    network (epoch 0, where probed): what the architecture and the probe give with no training."""
    data = rankloss.total_counts(counts, threshold, probe)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ok = data[data["status"] == status.OK]
    every_epoch = rankloss.total_counts(counts, threshold, probe, last_epoch_only=False)
    untrained = every_epoch[(every_epoch["epoch"] == 0) & (every_epoch["epoch"] < every_epoch["epoch"].max())]
    datasets = list(dict.fromkeys([*data["dataset"], *untrained["dataset"]]))
    colours = dict(zip(datasets, sns.color_palette("colorblind", len(datasets))))
    lines = {"errorbar": "sd", "err_style": "bars", "legend": False, "ax": ax}
    if len(untrained):
        sns.lineplot(
            untrained, x="batch_size", y="count", hue="dataset", palette=colours, linestyle="--", alpha=0.6, **lines
        )
    if len(ok):
        sns.lineplot(ok, x="batch_size", y="count", hue="dataset", palette=colours, marker="o", **lines)
    for _, row in data[data["status"] != status.OK].iterrows():
        ax.annotate(
            row["status"],
            (row["batch_size"], 0),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=MIN_FONTSIZE,
            color="crimson",
        )
    handles = [Line2D([], [], color=colours[d], marker="o", label=d) for d in datasets if d in set(ok["dataset"])]
    if len(untrained):
        handles += _trained_and_untrained()
    if handles:
        ax.legend(handles=handles, title="dataset", fontsize=MIN_FONTSIZE, title_fontsize=MIN_FONTSIZE + 1)
    ax.set_xscale("log", base=2)
    batch_sizes = sorted(data["batch_size"].unique())
    ax.set_xticks(batch_sizes, [str(b) for b in batch_sizes], rotation=45)
    ax.set_xlabel("batch size")
    _count_axis(ax, pd.concat([data, untrained]), threshold)  # room for the untrained line too
    _save(fig, title, pdf, png)


def over_training(counts: pd.DataFrame, threshold: float, probe: str, title: str, pdf: Path, png: Path) -> None:
    """Beyond the paper: the count at each probed epoch on ``probe``, one line per batch size (a
    colour each, the same in every panel), a panel per dataset."""
    data = rankloss.total_counts(counts, threshold, probe, last_epoch_only=False)
    datasets = list(data["dataset"].unique())
    colours = batch_size_colours(counts["batch_size"].unique())
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.5 * len(datasets) + 1.2, 3.6), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        ok = data[(data["dataset"] == dataset) & (data["status"] == status.OK)]
        if len(ok):
            sns.lineplot(
                ok,
                x="epoch",
                y="count",
                hue="batch_size",
                palette={b: colours[b] for b in ok["batch_size"].unique()},
                marker="o",
                errorbar="sd",
                err_style="bars",
                legend=False,
                ax=ax,
            )
        failed = data[(data["dataset"] == dataset) & (data["status"] != status.OK)]["batch_size"].unique()
        if len(failed):
            ax.text(
                0.02,
                0.95,
                "not finished: batch " + ", ".join(map(str, sorted(failed))),
                transform=ax.transAxes,
                fontsize=MIN_FONTSIZE,
                color="crimson",
                va="top",
            )
        ax.set_title(dataset, fontsize=TITLE_FONTSIZE)
        ax.set_xlabel("epoch (0: untrained)")
        _count_axis(ax, data, threshold)
    handles = [Line2D([], [], color=c, marker="o", label=str(b)) for b, c in colours.items()]
    _legend_right(axes[0][-1], handles, "batch size")
    _save(fig, title, pdf, png)


def _legend_right(ax, handles: list, title: str) -> None:
    """The figure's one legend, right of its last panel."""
    ax.legend(
        handles=handles,
        title=title,
        loc="upper left",
        bbox_to_anchor=(1.02, 1),
        fontsize=MIN_FONTSIZE,
        title_fontsize=MIN_FONTSIZE + 1,
    )


def _trained_and_untrained() -> list[Line2D]:
    """Legend entries for the two line styles: the last epoch's, and the untrained network's (epoch 0)."""
    return [
        Line2D([], [], color="k", marker="o", label="trained (last epoch)"),
        Line2D([], [], color="k", linestyle="--", alpha=0.6, label="untrained (epoch 0)"),
    ]


COMPONENT_LABELS = {
    "dead_zeros": "zeros from dead units / samples",
    "other_zeros": "other exact zeros",
    "genuine": "genuine near-rank loss",
}
DEFICIT_LABEL = "structural deficit (not counted)"
DEFICIT_AXIS_LABEL = "structural\ndeficit"
COUNTED = list(COMPONENT_LABELS)


def _component_axes(columns: int, width: float, height: float):
    """A column per panel: the deficit on a short axis above the counted parts' (sharing its x)."""
    fig, axes = plt.subplots(
        2,
        columns,
        figsize=(width * columns + 2.4, height),  # + the legend on the right
        squeeze=False,
        sharex="col",
        gridspec_kw={"height_ratios": [1, 2.4]},
    )
    return fig, axes[0], axes[1]


def components(counts: pd.DataFrame, threshold: float, probe: str, title: str, pdf: Path, png: Path) -> None:
    """What the count on ``probe`` is made of, stacked per batch size (mean over seeds), a panel per
    dataset, on an axis scaled to what is counted; the structural deficit, not counted and often
    thousands of times larger, on its own axis above."""
    data = rankloss.total_counts(counts, threshold, probe)
    data = data[data["status"] == status.OK].groupby(["dataset", "batch_size"], sort=False).mean(numeric_only=True)
    datasets = list(data.index.get_level_values("dataset").unique())
    fig, deficits, counted = _component_axes(len(datasets), 4.5, 4.6)
    for top, ax, dataset in zip(deficits, counted, datasets):
        table = data.loc[dataset].sort_index()
        _stacked_components(top, ax, table, [str(b) for b in table.index], rotation=45)
        ax.set_xlabel("batch size")
        ax.set_ylabel(count_label(threshold))
        top.set_title(dataset, fontsize=TITLE_FONTSIZE)
    _component_legend(deficits[-1], counted[-1])
    _save(fig, title, pdf, png)


def _stacked_components(deficit_ax, ax, table: pd.DataFrame, labels: list[str], rotation: int) -> None:
    """One bar per row of ``table`` on ``ax``: the counted parts stacked, the paper-style count as a
    black tick, the axis' top set by them; the deficit on ``deficit_ax``, hatched, on its own scale."""
    positions = np.arange(len(table))
    colours = sns.color_palette("colorblind", len(COUNTED) + 1)
    bottom = np.zeros(len(table))
    for colour, (component, label) in zip(colours, COMPONENT_LABELS.items()):
        values = table[component].fillna(0).to_numpy(dtype=float)
        ax.bar(positions, values, bottom=bottom, color=colour, label=label)
        bottom += values
    ax.plot(positions, table["count"], "k_", markersize=18, markeredgewidth=2, label="paper-style count")
    counted = float(np.nanmax([bottom.max(initial=0), table["count"].max()]))  # the count: NaN where none
    ax.set_ylim(0, max(1, 1.15 * counted))
    if counted == 0:
        ax.text(0.5, 0.5, "count 0: nothing at or below the threshold", transform=ax.transAxes, ha="center")
    ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=6, integer=counted >= 4))  # means over seeds: 1.5
    ax.set_xticks(positions, labels, rotation=rotation)
    deficit = table["deficit"].fillna(0).to_numpy(dtype=float)
    deficit_ax.bar(positions, deficit, color=colours[-1], alpha=0.5, hatch="//", label=DEFICIT_LABEL)
    deficit_ax.set_ylim(0, max(1, 1.15 * deficit.max(initial=0)))
    deficit_ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=3, integer=True))
    deficit_ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    deficit_ax.set_ylabel(DEFICIT_AXIS_LABEL, fontsize=MIN_FONTSIZE + 1)
    deficit_ax.tick_params(axis="x", labelbottom=False)
    if not deficit.any():
        deficit_ax.text(0.5, 0.5, "no structural deficit", transform=deficit_ax.transAxes, ha="center", va="center")


def _component_legend(deficit_ax, ax) -> None:
    """One legend for the figure, right of its last panel: the counted parts, the count, the deficit."""
    handles, labels = ax.get_legend_handles_labels()
    more, more_labels = deficit_ax.get_legend_handles_labels()
    deficit_ax.legend(
        more + handles[::-1],  # top to bottom, as drawn
        more_labels + labels[::-1],
        loc="upper left",
        bbox_to_anchor=(1.02, 1),
        fontsize=MIN_FONTSIZE,
    )


LAYER_NOTE = (
    r"count: singular values ≤ $t_{\mathrm{th}}$ in the SVD of a layer's unfoldings, summed over its modes; "
    "the structural deficit (batch larger than a layer) is not counted"
)


def layer_components(counts: pd.DataFrame, title: str, pdf: Path, png: Path) -> None:
    """One model on one batch (``rankgap-measure``): the count and its parts per layer, in forward
    order, summed over modes, a panel per threshold, scaled to what is counted; the structural deficit
    on its own axis above."""
    summed = counts.groupby(["threshold", "depth", "layer"])[["count", *rankloss.COMPONENTS]].sum()
    thresholds = sorted(counts["threshold"].unique(), reverse=True)
    width = max(4.5, 2 + 0.3 * counts["layer"].nunique())
    fig, deficits, counted = _component_axes(len(thresholds), width, 5.2)
    for top, ax, threshold in zip(deficits, counted, thresholds):
        table = summed.loc[threshold]
        _stacked_components(top, ax, table, list(table.index.get_level_values("layer")), rotation=90)
        ax.set_xlabel("layer (forward order)")
        ax.set_ylabel(count_label(threshold))
        top.set_title(f"$t_{{\\mathrm{{th}}}} = {threshold_tex(threshold)}$", fontsize=TITLE_FONTSIZE)
    _component_legend(deficits[-1], counted[-1])
    _save(fig, title, pdf, png, LAYER_NOTE)


def measure_note(measure: str, probe: str) -> str:
    how = "averaged" if measures.MEASURES[measure].combine == "mean" else "summed"
    return (
        f"{measures.MEASURES[measure].label} on the fixed probe ({probe}: the same images for every run), "
        f"{how} over each layer's modes (all layers: over every layer and mode); mean ± sd over seeds; "
        "dashed: the same network untrained (epoch 0), what the architecture and the probe give with no training"
    )


def measure_against_batch_size(
    frame: pd.DataFrame, measure: str, threshold: float | None, probe: str, title: str, pdf: Path, png: Path
) -> None:
    """``measure`` (a spectrum measure of measures.py; ``frame``: an experiment's measures.csv) on
    ``probe`` at the end of training against batch size, a panel per layer and one for every layer
    together, each beside the untrained network's value (epoch 0, dashed, where probed): a trend the
    untrained line has too is the architecture's and the probe's, not training's."""
    spec = measures.MEASURES[measure]
    layers = measures.per_layer(frame[frame["probe"] == probe], threshold or frame["threshold"].iloc[0])
    layers = layers[layers["status"] == status.OK]
    last = layers.groupby(["experiment", "dataset", "batch_size", "seed"])["epoch"].transform("max")
    trained, untrained = layers[layers["epoch"] == last], layers[(layers["epoch"] == 0) & (last > 0)]
    names = list(dict.fromkeys(layers.sort_values("depth")["layer"]))
    datasets = list(dict.fromkeys(layers["dataset"]))
    colours = dict(zip(datasets, sns.color_palette("colorblind", len(datasets))))
    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names) + 1.6, 3.4), squeeze=False, sharex=True)
    lines = {"x": "batch_size", "y": measure, "hue": "dataset", "palette": colours, "errorbar": "sd", "legend": False}
    for ax, layer in zip(axes[0], names):
        if len(untrained):
            sns.lineplot(untrained[untrained["layer"] == layer], linestyle="--", alpha=0.6, ax=ax, **lines)
        sns.lineplot(trained[trained["layer"] == layer], marker="o", err_style="bars", ax=ax, **lines)
        ax.set_title("all layers" if layer == measures.ALL_LAYERS else layer, fontsize=TITLE_FONTSIZE)
        ax.set_xscale("log", base=2)
        batch_sizes = sorted(layers["batch_size"].unique())
        ax.set_xticks(batch_sizes, [str(b) for b in batch_sizes], rotation=45)
        ax.set_xlabel("batch size")
        ax.set_ylabel("")
    label = spec.label + (f" at ${threshold_tex(threshold)}$" if spec.threshold else "")
    axes[0][0].set_ylabel(label)
    handles = [Line2D([], [], color=colours[d], marker="o", label=d) for d in datasets]
    _legend_right(axes[0][-1], handles + _trained_and_untrained(), "dataset")
    _save(fig, title, pdf, png, measure_note(measure, probe))


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
            ax.set_title(f"{m} × {n}: mean $\\sigma_{{\\min}}$ = {sigma_min.mean():.4g}", fontsize=MIN_FONTSIZE + 1)
            ax.set_xlabel("singular value", fontsize=MIN_FONTSIZE)
            ax.set_ylabel("% of values", fontsize=MIN_FONTSIZE)
            # plain numbers (30, not 3×10^1): a panel spanning less than a decade labels its minor ticks
            ax.xaxis.set_major_formatter(ticker.LogFormatter())
            ax.xaxis.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False))
            ax.tick_params(which="both", labelsize=MIN_FONTSIZE)
        for ax in row[len(ns) :]:  # a shorter row leaves its last panels empty
            fig.delaxes(ax)
    fig.suptitle(wrap(title, fig.get_figwidth() - 0.4, TITLE_FONTSIZE), fontsize=TITLE_FONTSIZE)
    fig.tight_layout()
    return fig
