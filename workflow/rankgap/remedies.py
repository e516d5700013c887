"""Remedies for the large-batch gap and the rival explanations of it, side by side on the same runs.

A comparison (config ``remedy_comparisons``) is a baseline experiment and one experiment per remedy,
all at the same small and large batch size.  Per condition (remedy x batch size, the mean over
seeds): the test error, the gap (test error at the large batch minus at the small one), the
near-rank-loss count and its components (``rank.total_counts``), the Hessian's largest eigenvalue
and trace (``sharpness``) and the weights' mean alpha and stable rank (``weight_spectra``).

Which measure tracks the gap: across the remedies, Spearman's rho between the gap and the measure's
own difference between the large and the small batch (a measure that explains the gap should
change with batch size as much as the gap does, remedy by remedy); beside it, across every
condition, rho between the test error and the measure.  Whether a remedy helps small batches as
much as large ones: its change of the test error against the baseline at each batch size.
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from . import figures, paper, rank, status, tables, weight_spectra  # noqa: E402

# Explanatory measures, as the table's columns name them, and in words
MEASURES = {
    "count": "near-rank loss (count)",
    "genuine": "genuine near-rank loss",
    "lambda_max": "Hessian λmax",
    "trace": "Hessian trace",
    "weight_alpha": "weight alpha (mean)",
    "weight_stable_rank": "weight stable rank (mean)",
}
ALPHA = 0.05  # two-sided significance level of a rank correlation
KEYS = ["experiment", "batch_size", "seed"]


def run_measures(
    runs: list[dict],
    summaries: list[Path],
    sharpness: list[Path],
    spectra: list[Path],
    rankloss: dict[str, Path],
    threshold: float,
    reported_loss: dict[str, str],
) -> pd.DataFrame:
    """One row per run (``runs``: wildcard dicts, the other lists in the same order): status,
    errors, the count and its components at ``threshold``, sharpness and weight metrics."""
    frame = tables.read_summaries(summaries, reported_loss)[["status", "train_error", "test_error"]]
    frame = pd.concat([pd.DataFrame(runs)[KEYS + ["dataset"]], frame], axis=1)
    frame = frame.join(pd.DataFrame([json.loads(Path(p).read_text()) for p in sharpness])[["lambda_max", "trace"]])
    frame = frame.join(pd.DataFrame([weight_spectra.summary(pd.read_csv(p)) for p in spectra]))
    counts = [
        rank.total_counts(pd.read_csv(path), threshold).assign(experiment=experiment)
        for experiment, path in rankloss.items()
    ]
    counts = pd.concat(counts, ignore_index=True)[
        ["experiment", "dataset", "batch_size", "seed", "count", *rank.COMPONENTS]
    ]
    return frame.merge(counts, on=[*KEYS, "dataset"], how="left")


def conditions(per_run: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """The mean over seeds per remedy and batch size, in the order of the runs (the baseline's
    first), with the gap."""
    numbers = [
        "train_error",
        "test_error",
        "count",
        *rank.COMPONENTS,
        "lambda_max",
        "trace",
        "weight_alpha",
        "weight_stable_rank",
    ]
    groups = per_run.groupby(["experiment", "batch_size"], sort=False)
    table = groups[numbers].mean()
    table["seeds"] = groups.size()
    table["status"] = groups["status"].agg(status.combined)
    table = table.reset_index()
    table.insert(0, "remedy", table["experiment"].where(table["experiment"] != baseline, "baseline"))
    table["gap"] = table["remedy"].map(differences(table, "test_error"))
    return table


def differences(table: pd.DataFrame, column: str) -> pd.Series:
    """Per remedy, ``column`` at the large batch minus at the small one."""
    values = table.pivot(index="remedy", columns="batch_size", values=column)
    small, large = sorted(values.columns)
    return (values[large] - values[small]).reindex(table["remedy"].unique())


def tracking(table: pd.DataFrame) -> pd.DataFrame:
    """Per measure: Spearman's rho across the remedies between the gap and the measure's
    large-minus-small difference (with the two-sided 5% critical value for that many remedies),
    and across every condition between the test error and the measure."""
    gap = differences(table, "test_error")
    rows = []
    for column, name in MEASURES.items():
        rho, critical = paper.spearman(gap, differences(table, column)), paper.critical_rho(len(gap), ALPHA / 2)
        testable = not (math.isnan(rho) or math.isnan(critical))
        rows.append(
            {
                "measure": column,
                "description": name,
                "remedies": len(gap),
                "rho_gap": rho,
                "critical_rho": critical,
                "significant": abs(rho) >= critical if testable else None,
                "conditions": len(table),
                "rho_test_error": paper.spearman(table["test_error"], table[column]),
            }
        )
    return pd.DataFrame(rows)


def effects(table: pd.DataFrame) -> pd.DataFrame:
    """Per remedy: its change of the test error against the baseline at the small and at the large
    batch (negative: it helps) and of the gap, with a verdict in words."""
    errors = table.pivot(index="remedy", columns="batch_size", values="test_error")
    small, large = sorted(errors.columns)
    change = errors.sub(errors.loc["baseline"], axis=1).drop(index="baseline")
    rows = []
    for remedy in [r for r in table["remedy"].unique() if r != "baseline"]:
        at_small, at_large = change.at[remedy, small], change.at[remedy, large]
        rows.append(
            {
                "remedy": remedy,
                "small_batch": small,
                "large_batch": large,
                "test_error_small": errors.at[remedy, small],
                "change_small": at_small,
                "test_error_large": errors.at[remedy, large],
                "change_large": at_large,
                "gap_change": at_large - at_small,
                "verdict": verdict(at_small, at_large),
            }
        )
    return pd.DataFrame(rows)


def verdict(change_small: float, change_large: float) -> str:
    """Whether a remedy that changes the test error by these points helps small batches as much as large ones."""
    if math.isnan(change_small) or math.isnan(change_large):
        return "n/a (a run did not finish)"
    if change_small >= 0 and change_large >= 0:
        return "helps neither batch size"
    if change_large < change_small:
        return "helps the large batch more: the gap narrows"
    return "helps the small batch as much or more: the gap does not narrow"


def shown(value: float, spec: str, missing: str = "n/a", unit: str = "") -> str:
    """A number as the markdown shows it, or ``missing`` for NaN."""
    return missing if math.isnan(value) else format(value, spec) + unit


def formatted(table: pd.DataFrame) -> pd.DataFrame:
    """The table as the markdown shows it (a run that did not finish shows its status)."""

    def number(column, spec, unit=""):
        return [shown(value, spec, status, unit) for value, status in zip(table[column], table["status"])]

    return pd.DataFrame(
        {
            "Remedy": table["remedy"],
            "Batch size": table["batch_size"].astype(str),
            "Test error": number("test_error", ".2f", "%"),
            "Gap": number("gap", "+.2f"),
            "Count": number("count", ".0f"),
            "dead zeros / other zeros / genuine": [
                f"{d:.0f} / {o:.0f} / {g:.0f}" if not math.isnan(d) else status
                for d, o, g, status in zip(table["dead_zeros"], table["other_zeros"], table["genuine"], table["status"])
            ],
            "Deficit": number("deficit", ".0f"),
            "λmax": number("lambda_max", ".4g"),
            "Trace": number("trace", ".4g"),
            "Weight alpha": number("weight_alpha", ".3f"),
            "Stable rank": number("weight_stable_rank", ".2f"),
        }
    )


def figure(table: pd.DataFrame, measures: pd.DataFrame, title: str, pdf: Path, png: Path) -> None:
    """The gap against each measure's large-minus-small difference, a point per remedy, a panel per measure."""
    gap = differences(table, "test_error")
    fig, axes = plt.subplots(2, math.ceil(len(MEASURES) / 2), figsize=(4 * math.ceil(len(MEASURES) / 2), 7))
    for ax, (_, row) in zip(axes.flat, measures.iterrows()):
        x = differences(table, row["measure"])
        ax.scatter(x, gap)
        for remedy in gap.index:
            ax.annotate(remedy, (x[remedy], gap[remedy]), textcoords="offset points", xytext=(3, 3), fontsize=7)
        ax.set_xlabel(f"{row['description']}: large − small batch", fontsize=8)
        ax.set_ylabel("gap (test error points)", fontsize=8)
        ax.set_title(f"ρ = {shown(row['rho_gap'], '+.2f')} (n = {row['remedies']})", fontsize=9)
    fig.suptitle(textwrap.fill(title, 90), fontsize=9)
    fig.tight_layout()
    figures.save(fig, pdf, png)


def report(table: pd.DataFrame, measures: pd.DataFrame, effect: pd.DataFrame, caption: str, dataset: str) -> str:
    """The comparison in words and numbers (markdown)."""
    seeds = int(table["seeds"].min())
    ranked = measures.dropna(subset=["rho_gap"]).assign(strength=lambda m: m["rho_gap"].abs())
    if len(ranked):
        best = ranked.sort_values("strength", ascending=False).iloc[0]
        names = " and ".join(ranked.loc[ranked["strength"] == best["strength"], "description"])
        n = best["remedies"]
        if best["significant"] is None:
            significance = f"but {n} points are too few for any ρ to be significant at 5%"
        else:
            significance = (
                f"{'reaching' if best['significant'] else 'not reaching'} the two-sided 5% critical "
                f"value ({best['critical_rho']:.3f} for n = {n})"
            )
        headline = (
            f"Across the {n} conditions (the baseline and each remedy), the gap is tracked best by "
            f"**{names}**: Spearman's ρ = {best['rho_gap']:+.2f} between the gap and the measure's "
            f"large-minus-small difference, {significance}."
        )
    else:
        headline = "No measure has a rank correlation with the gap (too few finished runs, or constant values)."
    signed = {column: measures[column].map(lambda v: shown(v, "+.2f")) for column in ("rho_gap", "rho_test_error")}
    correlations = measures.assign(
        **signed,
        critical_rho=measures["critical_rho"].map(lambda v: shown(v, ".3f")),
        significant=measures["significant"].map({True: "yes", False: "no"}).fillna("n/a"),
    )[["description", "remedies", "rho_gap", "critical_rho", "significant", "conditions", "rho_test_error"]]
    correlations.columns = [
        "Measure",
        "Remedies",
        "ρ (gap, Δmeasure)",
        "Critical |ρ| (5%)",
        "Significant",
        "Conditions",
        "ρ (test error, measure)",
    ]
    change = effect.assign(
        **{
            column: effect[column].map(lambda v: shown(v, "+.2f"))
            for column in ("change_small", "change_large", "gap_change")
        },
        **{
            column: effect[column].map(lambda v: shown(v, ".2f", unit="%"))
            for column in ("test_error_small", "test_error_large")
        },
    )[["remedy", "test_error_small", "change_small", "test_error_large", "change_large", "gap_change", "verdict"]]
    small, large = sorted(table["batch_size"].unique())
    change.columns = [
        "Remedy",
        f"Test error at {small}",
        "Change",
        f"Test error at {large}",
        "Change",
        "Gap change",
        "Verdict",
    ]
    seed_note = (
        "one seed per condition: differences smaller than the run-to-run spread, which one seed cannot show, "
        "are not resolved"
        if seeds == 1
        else f"the mean of {seeds} seeds per condition"
    )
    return "\n".join(
        [
            f"# {caption}",
            "",
            f"Dataset {dataset}, batch sizes {small} and {large}; {seed_note}. The gap is the test error at {large} "
            f"minus at {small}, in percentage points; Δmeasure is a measure at {large} minus at {small}.",
            "",
            "## Which measure tracks the gap across remedies",
            "",
            headline,
            "",
            correlations.to_markdown(index=False, disable_numparse=True),
            "",
            "ρ (test error, measure) is taken across every condition (remedy × batch size), so batch size itself "
            "drives it; the gap column is the test of an explanation.",
            "",
            "## Does each remedy help small batches as much as large ones?",
            "",
            "Changes are against the baseline at the same batch size, in test-error points (negative: it helps).",
            "",
            change.to_markdown(index=False, disable_numparse=True),
            "",
        ]
    )


def write(per_run: pd.DataFrame, baseline: str, caption: str, dataset: str, outputs: dict[str, Path]) -> None:
    """The table (csv, md), the figure (pdf, png) and the comparison (md, csv, effects csv)."""
    table = conditions(per_run, baseline)
    tables.write(table, outputs["csv"], outputs["md"], None, caption, formatted(table))
    measures, effect = tracking(table), effects(table)
    figure(table, measures, caption, outputs["pdf"], outputs["png"])
    measures.to_csv(outputs["comparison_csv"], index=False)
    effect.to_csv(outputs["effects_csv"], index=False)
    Path(outputs["comparison_md"]).write_text(report(table, measures, effect, caption, dataset))
