"""Which measure tracks the generalization gap: every measure of every layer against the gap (test
minus training error) and the test error, over every published run, and again with the batch size
held fixed (analysis plan: ``tracking``).

A measure that explains the gap must move with it where the batch size does not: across the
remedies at one batch size, and across the switch runs, which all end at the same small batch.  One
that only tracks the batch size moves across batch sizes and nowhere else.  Per measure and layer:

- ``across``: Spearman's rho between the measure and the gap over every run, ranks taken within each
  architecture (model, variant, pooling, schedule), as is the permutation test;
- ``held_fixed``: the same within each architecture and batch size (and each architecture's switch
  runs on their own);
- ``batch_size``: rho between the measure and the batch size, over the runs without remedy or switch;
- ``within_batch_size`` and ``within_switch``: the held-fixed rho split by where it comes from (the
  seeds and remedies at one batch size; the switch runs, whose starting batch size is not held
  fixed), each its own family; descriptive, the categories rest on ``held_fixed``.

Two-sided p-values from permutations of the measure within the strata, Holm's correction over every
(measure, layer) of a question, 95% intervals of rho from resampling the seeds of each condition.
The runs come from a publication's data (``runs_of``): each part's runs.csv (or a comparison's
runs), its measures.csv and, where measured, the rival measures.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from . import significance
from .measures import ALL_LAYERS, MEASURES, RUN_MEASURES, SPECTRUM_MEASURES, per_layer
from .significance import ALPHA, PLAN

SETTINGS = PLAN["tracking"]
PERMUTATIONS, RESAMPLES = 20_000, 2_000
RUN_KEYS = ["experiment", "dataset", "batch_size", "seed"]
# what makes runs one architecture (their measures are comparable): a stratum of every question
ARCHITECTURE = ["model", "variant", "model_options", "schedule"]
REMEDY_SETTINGS = {"ghost_batch_size": None, "lr_scaling": "none", "regime_adaptation": False, "activation_noise": 0.0}
QUESTIONS = {
    "across": "across every run (within architectures)",
    "held_fixed": "with the batch size held fixed",
    "batch_size": "against the batch size (no remedy, no switch)",
    "within_batch_size": "held fixed, within a batch size only (seeds, remedies; no switch runs)",
    "within_switch": "held fixed, within the switch runs only",
}
TARGETS = {"gap": "generalization gap (test − training error)", "test_error": "test error"}
# the spectrum measures tested: the absolute effective rank is left out, its fraction (the same
# ranks on the fixed probe, whose denominators are the same for every run) stands for it
TESTED = [m for m in SPECTRUM_MEASURES if m != "effective_rank"]
CATEGORIES = ("tracks the gap", "tracks the test error", "tracks the batch size only", "none shown")


# --- the runs ---------------------------------------------------------------------------------


def _is_set(value, default) -> bool:
    """Whether a run setting, as a runs table holds it, differs from its default (no remedy)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    if isinstance(default, bool):
        return str(value).lower() not in ("false", "0")
    return value != default


def runs_of(parts: list[dict]) -> pd.DataFrame:
    """Every run of some published parts, once, with its measures: per run its settings, errors, gap,
    kind (``plain``, ``remedy``, ``switch``), architecture, condition (experiment and batch size),
    and one column per (measure, layer) at the last probe epoch on the fixed probe, every spectrum
    measure at the first threshold (``measure@layer``), and the run measures where measured.
    ``parts``: per part, ``part_files``."""
    frames = []
    for part in parts:
        runs = pd.read_csv(part["runs"])
        if part.get("rivals"):
            rivals = pd.read_csv(part["rivals"])
            runs = runs.merge(rivals[[*RUN_KEYS, *[m for m in RUN_MEASURES if m in rivals]]], on=RUN_KEYS, how="left")
        measured = pd.read_csv(part["measures"])
        measured = measured[measured["probe"] == part["probe"]]
        measured = measured[measured["epoch"] == measured.groupby(RUN_KEYS)["epoch"].transform("max")]
        layers = per_layer(measured, part["threshold"])
        wide = layers.pivot_table(index=RUN_KEYS, columns="layer", values=SPECTRUM_MEASURES, aggfunc="first")
        wide.columns = [f"{measure}@{layer}" for measure, layer in wide.columns]
        frames.append(runs.merge(wide.reset_index(), on=RUN_KEYS, how="inner"))
    runs = pd.concat(frames, ignore_index=True).drop_duplicates(RUN_KEYS)
    runs = runs[runs["status"] == "ok"].reset_index(drop=True)
    runs["gap"] = runs["test_error"] - runs["train_error"]
    switched = runs["switch"].notna() & (runs["switch"].astype(str) != "")
    remedied = np.zeros(len(runs), dtype=bool)
    for setting, default in REMEDY_SETTINGS.items():
        if setting in runs:
            remedied |= [_is_set(v, default) for v in runs[setting]]
    runs["kind"] = np.where(switched, "switch", np.where(remedied, "remedy", "plain"))
    runs["architecture"] = runs[[c for c in ARCHITECTURE if c in runs]].astype(str).agg(" ".join, axis=1)
    runs["condition"] = runs["experiment"] + " " + runs["batch_size"].astype(str)
    return runs


def measure_columns(runs: pd.DataFrame) -> list[str]:
    """The (measure, layer) columns of ``runs_of`` that are tested: the spectrum measures of ``TESTED``
    of each layer and of every layer together, and the run measures, wherever they vary within an
    architecture (every question ranks within architectures, so a measure constant within each, such
    as the exact zeros an architecture has by construction, has nothing to test)."""
    spectrum = [c for c in runs.columns if "@" in c and c.split("@")[0] in TESTED]
    columns = [*spectrum, *[m for m in RUN_MEASURES if m in runs]]
    return [c for c in columns if runs.groupby("architecture")[c].nunique(dropna=True).max() > 1]


# --- the statistics ---------------------------------------------------------------------------


def _within_ranks(values: np.ndarray, strata: np.ndarray) -> np.ndarray:
    """Ranks (ties averaged) within each stratum, centred on the stratum's mean rank; along the last
    axis, for every row at once."""
    out = np.zeros(values.shape, dtype=float)
    for stratum in np.unique(strata):
        members = strata == stratum
        ranks = rankdata(values[..., members], axis=-1)
        out[..., members] = ranks - ranks.mean(axis=-1, keepdims=True)
    return out


def _rhos(rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """The correlation of within-stratum ranks, row by row (NaN where either is constant)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=-1) / np.sqrt((rx * rx).sum(axis=-1) * (ry * ry).sum(axis=-1))


def stratified_rho(x, y, strata) -> float:
    """Spearman's rho pooled over strata: the correlation of ranks taken within each stratum."""
    strata = np.asarray(strata)
    return float(_rhos(_within_ranks(np.asarray(x, float), strata), _within_ranks(np.asarray(y, float), strata)))


def permutation_p(x, y, strata, permutations: int = PERMUTATIONS, seed: int = 0) -> float:
    """Two-sided p of ``stratified_rho``: the share of permutations of x within the strata whose |rho|
    is at least the observed one's (the observed counted among them)."""
    x, y, strata = np.asarray(x, float), np.asarray(y, float), np.asarray(strata)
    observed = stratified_rho(x, y, strata)
    if math.isnan(observed):
        return math.nan
    rng = np.random.default_rng(seed)
    shuffled = np.tile(x, (permutations, 1))
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        shuffled[:, members] = rng.permuted(shuffled[:, members], axis=1)
    rhos = _rhos(_within_ranks(shuffled, strata), _within_ranks(y, strata))
    return float((1 + (np.abs(rhos) >= abs(observed) - 1e-12).sum()) / (1 + permutations))


def seed_interval(x, y, strata, conditions, resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """The 1 - ALPHA percentile interval of ``stratified_rho`` over resamples of the runs of each condition
    (its seeds) with replacement: each position keeps its condition, hence its stratum."""
    x, y, strata, conditions = (np.asarray(a) for a in (x, y, strata, conditions))
    rng = np.random.default_rng(seed)
    index = np.tile(np.arange(len(x)), (resamples, 1))
    for condition in np.unique(conditions):
        members = np.flatnonzero(conditions == condition)
        index[:, members] = rng.choice(members, (resamples, len(members)))
    rhos = _rhos(_within_ranks(x.astype(float)[index], strata), _within_ranks(y.astype(float)[index], strata))
    rhos = rhos[~np.isnan(rhos)]
    if not len(rhos):
        return math.nan, math.nan
    return float(np.percentile(rhos, 50 * ALPHA)), float(np.percentile(rhos, 100 - 50 * ALPHA))


def _shared(strata: np.ndarray) -> np.ndarray:
    """Whether each run has another run of its stratum beside it: ranks within strata compare only those."""
    _, inverse, counts = np.unique(strata, return_inverse=True, return_counts=True)
    return counts[inverse] > 1


def _strata(runs: pd.DataFrame, question: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The runs a question takes and their strata."""
    switch = (runs["kind"] == "switch").to_numpy()
    plain = (runs["kind"] == "plain").to_numpy()
    architecture = runs["architecture"].to_numpy()
    fixed = architecture + " " + np.where(switch, "switch", runs["batch_size"].astype(str))
    taken = {
        "across": (slice(None), architecture),
        "held_fixed": (slice(None), fixed),
        "within_batch_size": (~switch, fixed),
        "within_switch": (switch, fixed),
        "batch_size": (plain, architecture),
    }
    rows, strata = taken[question]
    return runs[rows], strata[rows]


def correlations(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (measure, layer), question and target: n (the runs taken), ranked (those with another run
    of their stratum to be ranked against), rho, its two-sided permutation p, the p after
    Holm's correction over every (measure, layer) of that question and target, and the seeds'
    interval.  The batch-size question has the batch size for its target."""
    rows = []
    for column in measure_columns(runs):
        measure, _, layer = column.partition("@")
        for question in QUESTIONS:
            taken, strata = _strata(runs, question)
            targets = ["batch_size"] if question == "batch_size" else list(TARGETS)
            for target in targets:
                known = taken[[column, target]].notna().all(axis=1).to_numpy()
                x, y = taken[column].to_numpy(float)[known], taken[target].to_numpy(float)[known]
                s, c = strata[known], taken["condition"].to_numpy()[known]
                informative = len(x) > 3 and np.unique(s).size < len(x)
                low, high = seed_interval(x, y, s, c) if informative else (math.nan, math.nan)
                rows.append(
                    {
                        "measure": measure,
                        "layer": layer or ALL_LAYERS,
                        "label": MEASURES[measure].label,
                        "question": question,
                        "target": target,
                        "n": len(x),
                        "ranked": int(_shared(s).sum()),
                        "rho": stratified_rho(x, y, s) if informative else math.nan,
                        "p_value": permutation_p(x, y, s) if informative else math.nan,
                        "rho_low": low,
                        "rho_high": high,
                    }
                )
    frame = pd.DataFrame(rows)
    frame["p_holm"] = np.nan
    for _, index in frame.groupby(["question", "target"]).groups.items():
        frame.loc[index, "p_holm"] = significance.holm(frame.loc[index, "p_value"])
    frame["family"] = frame.groupby(["question", "target"])["p_value"].transform("count")
    return frame


def categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (measure, layer): its category (analysis plan: tracks the gap, the test error, the batch
    size only, or none shown) and the numbers it rests on."""

    def significant(rows, question, target):
        row = rows[(rows["question"] == question) & (rows["target"] == target)]
        return bool(len(row)) and row["p_holm"].iloc[0] <= ALPHA

    out = []
    for (measure, layer), rows in frame.groupby(["measure", "layer"], sort=False):
        if significant(rows, "held_fixed", "gap"):
            category = CATEGORIES[0]
        elif significant(rows, "held_fixed", "test_error"):
            category = CATEGORIES[1]
        elif significant(rows, "batch_size", "batch_size"):
            category = CATEGORIES[2]
        else:
            category = CATEGORIES[3]
        wide = {
            f"{q}_{t}_{stat}": rows.loc[(rows["question"] == q) & (rows["target"] == t), stat].iloc[0]
            for q, t in rows[["question", "target"]].itertuples(index=False)
            for stat in ("rho", "p_holm", "rho_low", "rho_high")
        }
        out.append({"measure": measure, "layer": layer, "label": rows["label"].iloc[0], "category": category, **wide})
    return pd.DataFrame(out)


# --- the figure -------------------------------------------------------------------------------


def panel_title(row) -> str:
    """A panel's title: the measure and layer, its held-fixed rho with the gap, its category."""
    rho = row.get("held_fixed_gap_rho", math.nan)
    held = "n/a (nothing to rank within strata)" if pd.isna(rho) else f"{rho:+.2f}"
    return f"{row['label']}, {row['layer']}\nheld fixed ρ {held}: {row['category']}"


def held_fixed_deviations(runs: pd.DataFrame, column: str) -> pd.DataFrame:
    """What the held-fixed rho of ``column`` with the gap is taken over, on a scale a reader can see:
    each run of a stratum of that question (an architecture at one batch size, or its switch runs)
    with at least one other run beside it, as its measure (``x``) and gap (``y``) minus the means of
    its stratum.  Ranks within a stratum are those of these deviations, so ``stratified_rho`` of x
    and y over ``stratum`` is the held-fixed rho; a run alone in its stratum has nothing to be ranked
    against and is left out."""
    taken, strata = _strata(runs, "held_fixed")
    frame = taken.assign(stratum=strata)[["stratum", "kind", "batch_size", column, "gap"]].dropna()
    frame = frame[_shared(frame["stratum"].to_numpy())]
    means = frame.groupby("stratum")[[column, "gap"]].transform("mean")
    return frame.assign(x=frame[column] - means[column], y=frame["gap"] - means["gap"])


MARKERS = {"plain": "o", "remedy": "s", "switch": "^"}


def _panels(runs: pd.DataFrame, answer: pd.DataFrame, draw, ylabel: str, title: str, png: Path) -> None:
    """A figure of one panel per measure and layer of ``answer`` (``draw(ax, column, colours)`` fills
    it), titled with its held-fixed rho and category, with one legend of batch sizes and kinds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .figures import MIN_FONTSIZE, TITLE_FONTSIZE, batch_size_colours

    columns = [
        f"{m}@{layer}" if m in SPECTRUM_MEASURES else m
        for m, layer in answer[["measure", "layer"]].itertuples(index=False)
    ]
    width = 5
    rows = math.ceil(len(columns) / width)
    fig, axes = plt.subplots(rows, width, figsize=(3.6 * width, 3.1 * rows), squeeze=False)
    colours = batch_size_colours(runs["batch_size"].unique())  # categorical, in order of size
    for ax, column, (_, row) in zip(axes.flat, columns, answer.iterrows()):
        draw(ax, column, colours)
        ax.set_title(panel_title(row), fontsize=MIN_FONTSIZE)
        ax.tick_params(labelsize=MIN_FONTSIZE)
        ax.set_ylabel(ylabel, fontsize=MIN_FONTSIZE)
    for ax in axes.flat[len(columns) :]:
        ax.axis("off")
    handles = [plt.Line2D([], [], color=c, marker="o", linestyle="", label=f"batch {b}") for b, c in colours.items()]
    handles += [plt.Line2D([], [], color="k", marker=m, linestyle="", label=k) for k, m in MARKERS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=MIN_FONTSIZE, frameon=False)
    fig.suptitle(title, fontsize=TITLE_FONTSIZE)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    fig.savefig(png, dpi=110, metadata={"Software": None})
    plt.close(fig)


def figure(runs: pd.DataFrame, answer: pd.DataFrame, png: Path) -> None:
    """Each measure against the gap, a panel per measure and layer (every layer together first), a
    point per condition (its mean over seeds, ± the seeds' sd), coloured by batch size, shaped by
    kind (plain, remedy, switch), titled with the held-fixed rho and the category."""
    means = runs.groupby(["condition", "kind", "batch_size"], sort=False)

    def draw(ax, column, colours):
        summary = means[[column, "gap"]].agg(["mean", "std"]).reset_index()
        for (kind, batch), group in summary.groupby(["kind", "batch_size"]):
            ax.errorbar(
                group[(column, "mean")],
                group[("gap", "mean")],
                xerr=group[(column, "std")],
                yerr=group[("gap", "std")],
                fmt=MARKERS[kind],
                color=colours[int(batch)],
                markersize=4,
                capsize=2,
                linewidth=0.8,
            )

    title = "Each measure against the generalization gap (condition means ± sd over seeds)"
    _panels(runs, answer, draw, "gap (test − train error, points)", title, png)


def held_fixed_figure(runs: pd.DataFrame, answer: pd.DataFrame, png: Path) -> None:
    """What the held-fixed rho in each panel's title rests on: per measure and layer, every run that
    has another of its stratum beside it, as its measure and gap minus its stratum's means
    (``held_fixed_deviations``); coloured by batch size, shaped by kind; a panel with no such run says
    so."""

    def draw(ax, column, colours):
        deviations = held_fixed_deviations(runs, column)
        if deviations.empty:
            ax.text(0.5, 0.5, "no stratum holds two runs", ha="center", va="center", transform=ax.transAxes)
        for (kind, batch), group in deviations.groupby(["kind", "batch_size"]):
            ax.plot(group["x"], group["y"], MARKERS[kind], color=colours[int(batch)], markersize=4)
        ax.axhline(0, color="0.8", linewidth=0.6, zorder=0)
        ax.axvline(0, color="0.8", linewidth=0.6, zorder=0)

    title = (
        "With the batch size held fixed: each run's measure and gap minus its stratum's mean "
        "(an architecture at one batch size, or its switch runs), as the held-fixed ρ ranks them"
    )
    _panels(runs, answer, draw, "gap − its stratum's mean (points)", title, png)


RUN_COLUMNS = [*RUN_KEYS, "kind", "architecture", "condition", "train_error", "test_error", "gap"]


def write_answer(
    parts: list[dict], csv: Path, answer_csv: Path, png: Path, held_fixed_png: Path, runs_csv: Path
) -> None:
    """The correlations (``csv``), the answer per measure and layer (``answer_csv``), the figures (each
    measure against the gap, and what the held-fixed rho rests on), and the runs they were taken over
    (``runs_csv``: each with its kind, architecture and measures)."""
    runs = runs_of(parts)
    runs[[*RUN_COLUMNS, *measure_columns(runs)]].to_csv(runs_csv, index=False, float_format="%.7g")
    frame = correlations(runs)
    frame.to_csv(csv, index=False, float_format="%.6g")
    answer = categories(frame)
    answer.to_csv(answer_csv, index=False, float_format="%.6g")
    figure(runs, answer, png)
    held_fixed_figure(runs, answer, held_fixed_png)


def published_measures(data: Path, name: str) -> dict | None:
    """What ``runs_of`` reads of a published part (its ``data`` folder, its name): runs.csv,
    measures.csv, a remedy comparison's rival measures (``{name}_runs.csv``), the fixed probe and the
    first threshold of its config; None for a part published before its measures were."""
    import yaml

    data = Path(data)
    if not (data / "measures.csv").exists():
        return None
    config = yaml.safe_load((data / "config.yaml").read_text())
    rivals = data / f"{name}_runs.csv"
    return {
        "runs": data / "runs.csv",
        "measures": data / "measures.csv",
        "rivals": rivals if rivals.exists() else None,
        "probe": config["probe"]["fixed_splits"][0],
        "threshold": config["analysis"]["thresholds"][0],
    }
