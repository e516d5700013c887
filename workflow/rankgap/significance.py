"""When a trend or a difference counts: Spearman's rank correlation with its exact p-value, Student's
t, the run-to-run spread of a measure pooled over conditions, Holm's correction for a family of
tests and Fieller's interval for a ratio, all from scipy.stats; and the analysis plan they follow.

Every verdict the pipeline publishes (a trend of the comparison with the paper, a measure that
tracks the gap, a remedy's effect, the share of a gap a switch closes) is taken with these, so that
"significant" means one thing everywhere: a p-value at or below ``ALPHA`` (after Holm's correction
where the test is one of a family), printed beside it.  The tests, margins and families of every
kind of claim are written down in analysis_plan.yaml (``PLAN``), before the data they judge.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

PLAN_FILE = Path(__file__).with_name("analysis_plan.yaml")
PLAN = yaml.safe_load(PLAN_FILE.read_text())
ALPHA = PLAN["alpha"]  # significance level of every test
# Orderings a Spearman p-value counts: all of them up to 9 points (9! = 362,880), a fixed random
# sample of this many above (n! would take too long, and the p-value is then good to about 0.001)
ORDERINGS = 400_000


def _pairs(x, y) -> pd.DataFrame:
    return pd.DataFrame({"x": np.asarray(x, dtype=float), "y": np.asarray(y, dtype=float)}).dropna()


def spearman(x, y) -> float:
    """Spearman's rho over the pairs where both are known (ties share their average rank); NaN when
    fewer than two remain or either is constant."""
    pairs = _pairs(x, y)
    if len(pairs) < 2 or (pairs.nunique() < 2).any():
        return math.nan
    return float(stats.spearmanr(pairs["x"], pairs["y"]).statistic)


def spearman_p(x, y, alternative: str = "greater") -> float:
    """The exact p-value of Spearman's rho (``alternative``: 'greater', 'less' or 'two-sided'): the
    fraction of the n! orderings of y against x whose rho is at least as extreme, ties included
    (their average ranks are permuted with them).  NaN when rho is (too few pairs, or constant)."""
    pairs = _pairs(x, y)
    if math.isnan(spearman(pairs["x"], pairs["y"])):
        return math.nan
    x_ranks = stats.rankdata(pairs["x"])
    x_ranks = (x_ranks - x_ranks.mean()) / np.linalg.norm(x_ranks - x_ranks.mean())

    def rho(y, axis):  # Pearson's correlation of the ranks, for every ordering at once
        ranks = stats.rankdata(y, axis=axis)
        centred = ranks - ranks.mean(axis=axis, keepdims=True)
        return (centred * x_ranks).sum(axis=axis) / np.linalg.norm(centred, axis=axis)

    result = stats.permutation_test(
        (pairs["y"].to_numpy(),),
        rho,
        permutation_type="pairings",
        vectorized=True,
        n_resamples=ORDERINGS,
        alternative=alternative,
        rng=0,
    )
    return float(result.pvalue)


def sign_test(successes: int, n: int) -> float:
    """The exact two-sided p-value of ``successes`` in ``n`` even chances (a sign test); NaN for n = 0."""
    return float(stats.binomtest(successes, n).pvalue) if n else math.nan


def smallest_p(n: int) -> float:
    """The smallest one-sided p-value n untied points can reach: one ordering of n!."""
    return 1 / math.factorial(n)


def t_critical(dof: float, alpha: float = ALPHA) -> float:
    """Student's two-sided critical t at ``alpha`` for ``dof`` degrees of freedom; NaN without any."""
    return float(stats.t.ppf(1 - alpha / 2, dof)) if dof > 0 else math.nan


def t_p_value(statistic: float, dof: float) -> float:
    """Student's two-sided p-value of a t statistic at ``dof`` degrees of freedom; NaN without any."""
    if dof <= 0 or math.isnan(statistic):
        return math.nan
    return float(2 * stats.t.sf(abs(statistic), dof))


def z_critical(alpha: float = ALPHA) -> float:
    """The normal two-sided critical value at ``alpha``: t with a spread known exactly."""
    return float(stats.norm.ppf(1 - alpha / 2))


def pooled_sd(values: pd.Series, groups: pd.Series) -> tuple[float, int]:
    """The run-to-run standard deviation of ``values`` pooled over ``groups`` (conditions: each run's
    deviation from its own condition's mean, as one-way ANOVA takes it) and its degrees of freedom,
    runs minus conditions; (NaN, 0) when no condition has two runs."""
    frame = pd.DataFrame({"value": values, "group": groups}).dropna()
    deviations = frame["value"] - frame.groupby("group")["value"].transform("mean")
    dof = len(frame) - frame["group"].nunique()
    return (math.sqrt((deviations**2).sum() / dof) if dof > 0 else math.nan), dof


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN ones are left out of the family and
    stay NaN): each adjusted p compares with ``ALPHA`` as the raw one would alone."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    known = np.flatnonzero(~np.isnan(p))
    order = known[np.argsort(p[known], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def fieller(a: float, b: float, var_a: float, var_b: float, cov: float, t: float) -> tuple[float, float]:
    """Fieller's interval for the ratio a / b of two estimates with these variances and covariance,
    at the critical value ``t``: the ratios r with (a - r b)^2 <= t^2 var(a - r b).  (NaN, NaN) when
    b is not clearly away from zero (the interval is then unbounded) or an input is unknown."""
    if any(math.isnan(v) for v in (a, b, var_a, var_b, cov, t)):
        return math.nan, math.nan
    # (b^2 - t^2 var_b) r^2 - 2 (a b - t^2 cov) r + (a^2 - t^2 var_a) <= 0
    qa, qb, qc = b * b - t * t * var_b, a * b - t * t * cov, a * a - t * t * var_a
    discriminant = qb * qb - qa * qc
    if qa <= 0 or discriminant < 0:
        return math.nan, math.nan
    root = math.sqrt(discriminant)
    return (qb - root) / qa, (qb + root) / qa
