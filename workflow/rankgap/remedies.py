"""Remedies for the large-batch gap and the rival explanations of it, side by side on the same runs.

A comparison (config ``remedy_comparisons``) is a baseline experiment and one experiment per remedy,
all at the same small and large batch size.  Per condition (remedy x batch size, the mean over
seeds): the test error, the gap (test error at the large batch minus at the small one), the
near-rank-loss count and its components (``rankloss.total_counts``), the Hessian's largest eigenvalue
and trace (``sharpness``) and the weights' mean alpha and stable rank (``weight_spectra``).

Which measure tracks the gap: across the remedies, Spearman's rho between the gap and the measure's
own difference between the large and the small batch (a measure that explains the gap should
change with batch size as much as the gap does, remedy by remedy); beside it, across every
condition, rho between the test error and the measure.  Whether a remedy helps small batches as
much as large ones: its change of the test error against the baseline at each batch size, and of
the gap.

With several seeds, every difference carries its standard error and counts only when a two-sided
t-test at ``ALPHA`` would call it one (``spreads``): on a GPU, two runs with identical settings and
seed differ (non-deterministic kernels), so a change within the run-to-run spread is no finding.

This module is the analysis; its outputs, in numbers, words and a figure, are remedy_report.py's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from . import rankloss, significance, status, tables, weight_spectra
from .measures import MEASURES, RUN_MEASURES, SPECTRUM_MEASURES, combined
from .significance import ALPHA  # two-sided, for rank correlations and differences

# Explanatory measures (measures.MEASURES): those of the fixed probe's spectra, every layer and mode
# together, and the rival measures of the weights
EXPLANATORY = ["count", "genuine", "relative_count", "effective_rank_fraction", *RUN_MEASURES]
KEYS = ["experiment", "batch_size", "seed"]
# the spectrum measures besides the count and its components (rankloss.csv's)
FIXED_PROBE_MEASURES = [m for m in SPECTRUM_MEASURES if m not in ("count", *rankloss.COMPONENTS)]


def run_measures(
    runs: list[dict],
    experiments: dict[str, dict],
    threshold: float,
    probe: str,
    reported_loss: dict[str, str],
) -> pd.DataFrame:
    """One row per run: status, errors, the count and its components at ``threshold`` and every
    spectrum measure of every layer and mode together, on the fixed ``probe`` at the last epoch;
    sharpness and weight metrics.  ``runs``: per run, its ``wildcards`` and its files (``summary``,
    ``sharpness``, ``weight_spectra``); ``experiments``: per experiment, its ``rankloss`` and
    ``measures`` files."""
    frame = tables.read_summaries([r["summary"] for r in runs], reported_loss)[["status", "train_error", "test_error"]]
    frame = pd.concat([pd.DataFrame([r["wildcards"] for r in runs])[KEYS + ["dataset"]], frame], axis=1)
    sharpness = pd.DataFrame([json.loads(Path(r["sharpness"]).read_text()) for r in runs])
    frame = frame.join(sharpness[["lambda_max", "trace"]])
    frame = frame.join(pd.DataFrame([weight_spectra.summary(pd.read_csv(r["weight_spectra"])) for r in runs]))
    keys = ["dataset", "batch_size", "seed"]
    per_experiment = []
    for experiment, files in experiments.items():
        counts = rankloss.total_counts(pd.read_csv(files["rankloss"]), threshold, probe)
        measured = pd.read_csv(files["measures"])
        measured = measured[(measured["probe"] == probe) & (measured["threshold"] == threshold)]
        measured = measured[measured["epoch"] == measured.groupby(keys)["epoch"].transform("max")]
        together = combined(measured, keys, FIXED_PROBE_MEASURES)
        per_experiment.append(
            counts[[*keys, "count", *rankloss.COMPONENTS]].merge(together, on=keys).assign(experiment=experiment)
        )
    counts = pd.concat(per_experiment, ignore_index=True)
    columns = ["experiment", *keys, "count", *rankloss.COMPONENTS, *FIXED_PROBE_MEASURES]
    return frame.merge(counts[columns], on=[*KEYS, "dataset"], how="left")


def conditions(per_run: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """The mean over seeds per remedy and batch size, in the order of the runs (the baseline's
    first), with the gap."""
    numbers = list(dict.fromkeys(["train_error", "test_error", *rankloss.COMPONENTS, *measures_present(per_run)]))
    groups = per_run.groupby(["experiment", "batch_size"], sort=False)
    table = groups[numbers].mean()
    table["test_error_std"] = groups["test_error"].std()  # over seeds: NaN with one
    table["seeds"] = groups.size()
    table["status"] = groups["status"].agg(status.combined)
    table = table.reset_index()
    table.insert(0, "remedy", table["experiment"].where(table["experiment"] != baseline, "baseline"))
    table["gap"] = table["remedy"].map(differences(table, "test_error"))
    spread = spreads(table)
    variance = table["batch_size"].map(spread["sd"]).pow(2) / table["seeds"]  # of a condition's mean
    table["gap_se"] = table["remedy"].map(variance.groupby(table["remedy"]).sum(min_count=1).pow(0.5))
    return table


def measures_present(frame: pd.DataFrame) -> list[str]:
    """The explanatory measures a comparison has (runs published before a measure existed lack it)."""
    return [column for column in EXPLANATORY if column in frame]


def spreads(table: pd.DataFrame) -> pd.DataFrame:
    """Per batch size: the run-to-run standard deviation of the test error, pooled over the
    conditions (their variances over seeds weighted by their degrees of freedom, as one-way ANOVA
    does: a condition's own deviation from 3 seeds is too rough to test with, so every condition
    at a batch size is taken to be as noisy as the others), its degrees of freedom, and Student's
    two-sided t at ``ALPHA`` for them.  NaN with one seed per condition."""
    dof = table["seeds"] - 1
    sums = table.assign(squares=table["test_error_std"].pow(2) * dof, dof=dof).groupby("batch_size")
    pooled = sums[["squares", "dof"]].sum(min_count=1)
    return pd.DataFrame(
        {
            "sd": (pooled["squares"] / pooled["dof"].where(pooled["dof"] > 0)).pow(0.5),
            "dof": pooled["dof"],
            "t": [significance.t_critical(d) for d in pooled["dof"]],
        }
    )


def differences(table: pd.DataFrame, column: str) -> pd.Series:
    """Per remedy, ``column`` at the large batch minus at the small one."""
    values = table.pivot(index="remedy", columns="batch_size", values=column)
    small, large = sorted(values.columns)
    return (values[large] - values[small]).reindex(table["remedy"].unique())


def gap_correlations(table: pd.DataFrame) -> pd.DataFrame:
    """Per measure: Spearman's rho across the remedies between the gap and the measure's
    large-minus-small difference, with its exact two-sided p-value and that p after Holm's
    correction over the measures (the analysis plan's family: significant at or below ALPHA; None
    when so few remedies that no rho could be), and across every condition between the test error
    and the measure."""
    gap = differences(table, "test_error")
    rows = []
    for column in measures_present(table):
        change = differences(table, column)
        rows.append(
            {
                "measure": column,
                "description": MEASURES[column].label,
                "remedies": len(gap),
                "rho_gap": significance.spearman(gap, change),
                "p_value": significance.spearman_p(gap, change, "two-sided"),
                "conditions": len(table),
                "rho_test_error": significance.spearman(table["test_error"], table[column]),
            }
        )
    frame = pd.DataFrame(rows)
    frame.insert(5, "p_holm", significance.holm(frame["p_value"]) if len(frame) else [])
    frame["family"] = int(frame["p_value"].notna().sum()) if len(frame) else 0  # the measures with a p: Holm's
    testable = [2 * significance.smallest_p(n) <= ALPHA for n in frame["remedies"]]
    frame.insert(
        6, "significant", [p <= ALPHA if ok and not math.isnan(p) else None for p, ok in zip(frame["p_holm"], testable)]
    )
    return frame


def effects(table: pd.DataFrame) -> pd.DataFrame:
    """Per remedy: its change of the test error against the baseline at the small and at the large
    batch (negative: it helps) and of the gap, the gap change's two-sided t-test and its p after
    Holm's correction over the remedies (the analysis plan's family), with a verdict in words."""
    errors = table.pivot(index="remedy", columns="batch_size", values="test_error")
    small, large = sorted(errors.columns)
    change = errors.sub(errors.loc["baseline"], axis=1).drop(index="baseline")
    seeds = table.pivot(index="remedy", columns="batch_size", values="seeds")
    spread = spreads(table)
    gap_dof = min(spread.at[small, "dof"], spread.at[large, "dof"])  # the fewer degrees of freedom of the two

    def change_se(remedy, batch):  # of a remedy's mean minus the baseline's, at one batch size
        return spread.at[batch, "sd"] * math.sqrt(1 / seeds.at[remedy, batch] + 1 / seeds.at["baseline", batch])

    rows = []
    for remedy in [r for r in table["remedy"].unique() if r != "baseline"]:
        at_small, at_large = change.at[remedy, small], change.at[remedy, large]
        se_small, se_large = change_se(remedy, small), change_se(remedy, large)
        gap_se = math.hypot(se_small, se_large)
        rows.append(
            {
                "remedy": remedy,
                "small_batch": small,
                "large_batch": large,
                "test_error_small": errors.at[remedy, small],
                "change_small": at_small,
                "change_small_se": se_small,
                "least_small": spread.at[small, "t"] * se_small,
                "test_error_large": errors.at[remedy, large],
                "change_large": at_large,
                "change_large_se": se_large,
                "least_large": spread.at[large, "t"] * se_large,
                "gap_change": at_large - at_small,
                "gap_change_se": gap_se,
                "gap_p": significance.t_p_value((at_large - at_small) / gap_se, gap_dof),
            }
        )
    frame = pd.DataFrame(rows)
    frame["gap_p_holm"] = significance.holm(frame["gap_p"]) if len(frame) else []
    frame["verdict"] = [
        remedy_verdict(r.change_small, r.change_large, r.least_small, r.least_large, r.gap_p_holm)
        for r in frame.itertuples()
    ]
    return frame.drop(columns=["least_small", "least_large"])


def best(measures: pd.DataFrame) -> pd.DataFrame:
    """The measures that track the gap best across remedies: those of the largest |rho_gap| (ties
    all kept); none when no rho could be taken."""
    strength = measures["rho_gap"].abs()
    return measures[strength == strength.max()] if strength.notna().any() else measures.iloc[:0]


NARROWS = "the gap narrows"  # in the verdict of a remedy whose gap change counts and is negative


def remedy_verdict(
    change_small: float,
    change_large: float,
    least_small: float = math.nan,
    least_large: float = math.nan,
    gap_p: float = math.nan,
) -> str:
    """Whether a remedy that changes the test error by these points helps small batches as much as
    large ones.  ``least_*``: the smallest change of the test error at each batch size that counts
    (t times its standard error); ``gap_p``: the gap change's p-value after Holm's correction over
    the remedies.  NaN with one seed, when the spread is unknown."""
    if math.isnan(change_small) or math.isnan(change_large):
        return "n/a (a run did not finish)"
    if math.isnan(gap_p):
        if change_small >= 0 and change_large >= 0:
            return "helps neither batch size (one seed: the spread is unknown)"
        if change_large < change_small:
            return f"helps the large batch more: {NARROWS} (one seed: the spread is unknown)"
        return "helps the small batch as much or more: the gap does not narrow (one seed: the spread is unknown)"
    if gap_p <= ALPHA:
        if change_large < change_small:
            return f"helps the large batch more: {NARROWS}"
        return "helps the small batch more (or hurts the large one): the gap widens"
    # not significant is not "no effect": the words say what was not shown, and what was
    moved = [
        f"{'helps' if change < 0 else 'hurts'} the {size} batch"
        for size, change, least in (("small", change_small, least_small), ("large", change_large, least_large))
        if abs(change) > least
    ]
    if not moved:
        return "no change shown: both batch sizes within the run-to-run spread"
    return f"{' and '.join(moved)} beyond the spread; no change of the gap shown after Holm's correction"
