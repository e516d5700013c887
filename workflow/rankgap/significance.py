"""When a trend or a difference counts: Spearman's rank correlation with its exact p-value, Student's
t, and the run-to-run spread of a measure pooled over conditions, all from scipy.stats.

Every verdict the pipeline publishes (a trend of the comparison with the paper, a measure that
tracks the gap across remedies, a remedy's effect) is taken with these, so that "significant" means
one thing everywhere: a p-value at or below ``ALPHA``, printed beside it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05  # significance level of every test
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
