"""From numbers to words: each claim judged by the test the analysis plan gives its kind
(analysis_plan.yaml, ``significance.PLAN``).

A claim is a row of statistics (``trend_statistics`` for a claim that a measure grows or falls with
batch size, with the same statistics of each run's value minus its untrained null beside them;
``share_closed`` for a claim of no effect, Table 11's); ``judge`` gives a table of them their
verdicts, Holm's correction taken over each family.  The published READMEs judge the statistics
their data hold with this module, so that a verdict follows from the plan whatever code computed
the statistics.

The words say which test a verdict rests on: "agrees" (several seeds: Spearman's rho and the change
beyond the run-to-run spread), "agrees by ρ alone" (one seed), "by construction" (the untrained
network gives the trend: never counted as agreement), "within the spread", "opposite" (by ρ alone
with one seed), "no clear trend", and for a claim of no effect "closes the gap", "closes part of
the gap", "closes none of the gap", "inconclusive"; "n/a" when the data cannot decide, "n/a: no
null" for a measure of rank whose untrained network was not probed (it would agree by ρ, but nothing
tells it from construction).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import significance
from .measures import FALLS, GROWS
from .significance import ALPHA, PLAN

CLOSES = "closes the gap"  # a claim of no effect: the switch closes the gap (Table 11)
FIGURES = "figures"  # the family of a table's figures' claims: its measures of rank, judged beside their null
RERUN_SEEDS = PLAN["trend"]["rerun_seeds"]
MARGIN = PLAN["no_effect"]["margin"]
AGREES, ONE_SEED = "agrees", " by ρ alone"
BY_CONSTRUCTION = "by construction"
NO_NULL = "n/a: no null"  # a measure of rank that would agree, with no untrained network to tell it from one
VERDICTS = (
    AGREES,
    AGREES + ONE_SEED,
    BY_CONSTRUCTION,
    NO_NULL,
    "within the spread",
    "opposite",
    "opposite" + ONE_SEED,
    "no clear trend",
    CLOSES,
    "closes part of the gap",
    "closes none of the gap",
    "inconclusive",
    "n/a",
)


def counts_as_agreement(verdict: str) -> bool:
    """Whether a verdict is an agreement with the paper's claim (by construction is not)."""
    return verdict in (AGREES, AGREES + ONE_SEED, CLOSES)


# --- statistics -------------------------------------------------------------------------------

STATISTICS = ["n", "seeds", "rho", "p_up", "p_down", "seed_min", "seed_max", "change", "change_se", "sd", "dof"]
# what ``judge`` adds to a claim's statistics (a claim read back is judged anew)
JUDGED = [
    "p_adjusted",
    "p_other_adjusted",
    "null_p_adjusted",
    "null_p_other_adjusted",
    "family_size",
    "verdict",
    "sd_needed",
]


def trend_statistics(points: pd.DataFrame) -> dict:
    """The statistics of a trend over batch size.  ``points``: one row per run with columns key (one
    per batch size or table row), x (the batch size), seed and value.

    Spearman's rho of the means over seeds against x with its exact one-sided p-values up and down;
    the lowest and highest rho of single seeds; the change from the smallest to the largest x, its
    standard error from the run-to-run spread pooled over the points (one-way ANOVA's, with several
    seeds) and that spread's degrees of freedom; ``means``, the means per key."""
    means = points.groupby("key", sort=False).agg(x=("x", "first"), value=("value", "mean"), seeds=("value", "count"))
    means = means.dropna()
    per_seed = [significance.spearman(g["x"], g["value"]) for _, g in points.groupby("seed")]
    per_seed = [r for r in per_seed if not math.isnan(r)] if points["seed"].nunique() > 1 else []
    ends = means.sort_values("x", kind="stable").iloc[[0, -1]] if len(means) else means
    sd, dof = significance.pooled_sd(points["value"], points["key"])
    return {
        "n": len(means),
        "seeds": int(means["seeds"].min()) if len(means) else 0,
        "rho": significance.spearman(means["x"], means["value"]),
        "p_up": significance.spearman_p(means["x"], means["value"], "greater"),
        "p_down": significance.spearman_p(means["x"], means["value"], "less"),
        "seed_min": min(per_seed, default=math.nan),
        "seed_max": max(per_seed, default=math.nan),
        "change": ends["value"].iloc[-1] - ends["value"].iloc[0] if len(ends) else math.nan,
        "change_se": sd * math.sqrt((1 / ends["seeds"]).sum()) if len(ends) else math.nan,
        "sd": sd,
        "dof": dof,
        "means": means,
    }


SHARE_COLUMNS = ["start", "baseline", "switched", "unswitched", "residual", "gap", "share", "share_low", "share_high"]


def share_closed(baseline: pd.Series, switched: pd.Series, unswitched: pd.Series) -> dict:
    """How much of a large batch's gap a switch to the small batch closes: the test errors of the
    runs at the small batch throughout (``baseline``), of the switch runs from one starting batch
    size (``switched``) and of the runs at that batch size throughout (``unswitched``), one value
    per seed each.  The share 1 - (switched - baseline) / (unswitched - baseline) and Fieller's
    interval for it (analysis plan: no_effect), with the groups' run-to-run sd pooled; the interval
    is NaN with one seed per group."""
    groups = [pd.Series(g, dtype=float).dropna() for g in (baseline, switched, unswitched)]
    means = [g.mean() for g in groups]
    residual, gap = means[1] - means[0], means[2] - means[0]
    values = pd.concat(groups, ignore_index=True)
    labels = pd.Series(np.repeat(range(3), [len(g) for g in groups]))
    sd, dof = significance.pooled_sd(values, labels)
    var = [sd * sd / len(g) if len(g) else math.nan for g in groups]
    # ratio r = residual / gap; both share the baseline's mean: cov = var(baseline mean)
    low, high = significance.fieller(
        residual, gap, var[1] + var[0], var[2] + var[0], var[0], significance.t_critical(dof)
    )
    return {
        "baseline": means[0],
        "switched": means[1],
        "unswitched": means[2],
        "residual": residual,
        "gap": gap,
        "share": 1 - residual / gap if gap else math.nan,
        "share_low": 1 - high,
        "share_high": 1 - low,
        "seeds": min(len(g) for g in groups),
    }


# --- verdicts ---------------------------------------------------------------------------------


def _directional(row, prefix: str = "") -> tuple[float, float]:
    """(p in the claim's direction, p in the other) of a trend row, from p_up and p_down; rows of
    older published data hold only the one-sided p in rho's own direction (``p_value``)."""
    if f"{prefix}p_up" in row and not pd.isna(row.get(f"{prefix}p_up")):
        up, down = row[f"{prefix}p_up"], row[f"{prefix}p_down"]
    elif not prefix and not pd.isna(row.get("p_value", math.nan)) and not pd.isna(row["rho"]):
        p = row["p_value"]
        up, down = (p, 1.0) if row["rho"] > 0 else (1.0, p)  # rho's own direction; the other is not small
    else:
        return math.nan, math.nan
    return (up, down) if row["claim_kind"] == GROWS else (down, up)


def least_change(row, prefix: str = "") -> float:
    """The smallest end-to-end change the run-to-run spread lets count: two-sided t at ALPHA times
    its standard error (NaN with one seed)."""
    dof = row.get(f"{prefix}dof", math.nan)
    if pd.isna(dof) and not prefix:  # older published data: the least change itself
        return row.get("least_change", math.nan)
    return significance.t_critical(dof) * row[f"{prefix}change_se"]


def trend_verdict(row, p_claim: float, p_other: float, prefix: str = "") -> str:
    """A trend's verdict at (Holm-adjusted) p-values in the claim's direction and the other."""
    n = row[f"{prefix}n"]
    if pd.isna(n) or n < 2 or significance.smallest_p(int(n)) > ALPHA:
        return "n/a"
    one_seed = row[f"{prefix}seeds"] <= 1
    least = least_change(row, prefix)
    moves = row[f"{prefix}change"] * (1 if row["claim_kind"] == GROWS else -1)
    suffix = ONE_SEED if one_seed else ""
    if p_claim <= ALPHA and (one_seed or moves > least):
        return AGREES + suffix
    if p_other <= ALPHA and (one_seed or -moves > least):
        return "opposite" + suffix
    if not one_seed and min(p_claim, p_other) <= ALPHA:
        return "within the spread"
    return "no clear trend"


def share_verdict(row) -> str:
    """A claim of no effect (the switch closes the gap), from the share's interval."""
    low, high = row["share_low"], row["share_high"]
    if pd.isna(row.get("share", math.nan)) or row["seeds"] <= 1:
        return "n/a"
    if pd.isna(low) or pd.isna(high):  # Fieller's interval is unbounded: the gap itself is not clear
        return "inconclusive"
    if low >= 1 - MARGIN:
        return CLOSES
    if high <= 0:
        return "closes none of the gap"
    if low > 0 and high < 1:
        return "closes part of the gap"
    return "inconclusive"


def sd_needed(row) -> float:
    """For a one-seed trend whose rho is significant in the claim's direction: the run-to-run sd
    below which a rerun with RERUN_SEEDS seeds per point would count its change too (NaN for every
    other verdict, which no spread would change)."""
    if row["seeds"] != 1 or not row["verdict"].startswith(AGREES):
        return math.nan
    dof = row["n"] * (RERUN_SEEDS - 1)
    return abs(row["change"]) / (significance.t_critical(dof) * math.sqrt(2 / RERUN_SEEDS))


def has_null(row) -> bool:
    """Whether a trend has its untrained null at every point (an epoch-0 probe of every run)."""
    return not pd.isna(row.get("null_n", math.nan)) and row["null_n"] == row["n"] and row["null_n"] >= 2


def judge(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims of one table's comparison with their verdicts: ``p_adjusted`` (Holm over each
    ``family``, the trend's p in its claim's direction, and the null difference's alike),
    ``verdict`` and ``sd_needed``.  A trend that agrees while its difference from the untrained
    null does not is "by construction"; a claim of no effect is judged by its share's interval."""
    claims = claims.copy()
    if claims.empty:
        return claims.assign(p_adjusted=[], null_p_adjusted=[], verdict=[], sd_needed=[])
    trends = claims["claim_kind"].isin([GROWS, FALLS])
    directional = {
        prefix: [
            _directional(row, prefix) if is_trend else (math.nan, math.nan)
            for is_trend, (_, row) in zip(trends, claims.iterrows())
        ]
        for prefix in ("", "null_")
    }
    for prefix in ("", "null_"):
        claim_p = np.array([p for p, _ in directional[prefix]], dtype=float)
        other_p = np.array([q for _, q in directional[prefix]], dtype=float)
        adjusted, adjusted_other = np.full(len(claims), np.nan), np.full(len(claims), np.nan)
        for _, members in claims.groupby("family", sort=False).groups.items():
            index = claims.index.get_indexer(members)
            adjusted[index] = significance.holm(claim_p[index])
            adjusted_other[index] = significance.holm(other_p[index])
        claims[f"{prefix}p_adjusted"] = adjusted
        claims[f"{prefix}p_other_adjusted"] = adjusted_other
    known = pd.Series([p for p, _ in directional[""]], index=claims.index).notna()
    claims["family_size"] = known.groupby(claims["family"]).transform("sum")
    verdicts = []
    for is_trend, (_, row) in zip(trends, claims.iterrows()):
        if not is_trend:
            verdicts.append(share_verdict(row) if row["claim_kind"] == CLOSES else "n/a")
            continue
        verdict = trend_verdict(row, row["p_adjusted"], row["p_other_adjusted"])
        if verdict.startswith(AGREES) and has_null(row):
            trained_part = trend_verdict(row, row["null_p_adjusted"], row["null_p_other_adjusted"], "null_")
            if not trained_part.startswith(AGREES):
                verdict = BY_CONSTRUCTION
        elif verdict.startswith(AGREES) and row.get("family") == FIGURES:
            verdict = NO_NULL  # a measure of rank agrees only beside its null: without one, no verdict
        verdicts.append(verdict)
    claims["verdict"] = verdicts
    claims["sd_needed"] = [sd_needed(row) for _, row in claims.iterrows()]
    return claims


# --- words ------------------------------------------------------------------------------------


def rho_text(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:+.3f}"


def p_text(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.3g}"


def _percent(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{round(100 * value)}%"  # round to an int: no "-0%"


def verdict_in_words(row) -> str:
    """A judged claim's verdict with what it rests on: 'agrees (ρ +0.943, p 0.025 after Holm over
    9; change +1.48, 0.34 needed; 3 seeds)', '... one seed: would count with 3 seeds if sd <
    0.35', 'by construction (... untrained: ρ +1.000, change +2.6e+04 of +2.6e+04)', or for a
    claim of no effect 'closes part of the gap: 82% [61%, 97%] of it at 8192; 3 seeds'."""
    if row["claim_kind"] == CLOSES:
        share = f"{_percent(row['share'])}"
        if not pd.isna(row["share_low"]):
            share += f" [{_percent(row['share_low'])}, {_percent(row['share_high'])}]"
        seeds = "one seed: no interval" if row["seeds"] <= 1 else f"{row['seeds']:.0f} seeds"
        if pd.isna(row.get("share", math.nan)):
            return f"from {row['start']:.0f}: {row['verdict']} (no runs without the switch at this batch size)"
        return f"{row['verdict']}: {share} of it from {row['start']:.0f}; {seeds}"
    if pd.isna(row["rho"]) or row["verdict"] == "n/a":
        return row["verdict"]
    if row["verdict"] == NO_NULL:
        return f"{NO_NULL} (ρ {rho_text(row['rho'])} alone would agree; epoch 0 was not probed)"
    family = row.get("family_size", 1)
    opposite = row["verdict"].startswith("opposite")  # it rests on the p in the other direction
    raw_p = _directional(row)[1 if opposite else 0]
    adjusted = row["p_other_adjusted" if opposite else "p_adjusted"]
    holm = f" ({p_text(adjusted)} after Holm over {family:.0f})" if family > 1 else ""
    rests = f"ρ {rho_text(row['rho'])}, p {p_text(raw_p)}{holm}; "
    if row["seeds"] > 1:
        rests += f"change {row['change']:+.3g}, {least_change(row):.3g} needed; {row['seeds']:.0f} seeds"
    elif not pd.isna(row["sd_needed"]):
        rests += f"one seed: would count with {RERUN_SEEDS} seeds if sd < {row['sd_needed']:.3g}"
    else:
        rests += "one seed"
    if has_null(row):
        rests += f"; untrained: ρ {rho_text(row['untrained_rho'])}, change {row['untrained_change']:+.3g}"
    elif row.get("family") == FIGURES:  # a measure of rank: its null is the untrained network
        rests += "; no null (epoch 0 not probed)"
    return f"{row['verdict']} ({rests})"


def criterion() -> str:
    """What the verdicts mean, as the comparison states it (from the analysis plan)."""
    trend, no_effect = (
        {key: " ".join(str(text).split()) for key, text in PLAN[kind].items()} for kind in ("trend", "no_effect")
    )
    return (
        f"Verdicts follow the analysis plan (`workflow/rankgap/analysis_plan.yaml`), at α = {ALPHA:g}. "
        f"**Trends**: {trend['test']} {trend['several_seeds']} {trend['one_seed']} {trend['untrained']} "
        f"{trend['family']} **A claim of no effect** (Table 11): {no_effect['statistic']} {no_effect['interval']} "
        f"Verdicts: {no_effect['verdicts']} {no_effect['chosen_after']} "
        "The paper's own numbers are checked the same way, one set of them (one seed)."
    )
