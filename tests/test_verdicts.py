"""Verdicts that can fail: the claims of the comparison with the paper judged as the analysis plan
says (verdicts.py, significance.py), each on a case built so that a wrong rule gives another word.

A reader of a published comparison relies on these: a switch that leaves part of a gap is not said
to close it; a trend the untrained network already has is not counted as agreement; a family of
tests is corrected as a family; the intervals and adjusted p-values are the textbook ones; and the
spread a one-seed verdict asks for is the one a rerun would need."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rankgap import significance, trends, verdicts
from rankgap.measures import FALLS, GROWS

LENET = [128, 512, 1024, 2048, 4096, 8192]


def errors(mean: float, sd: float, seeds: int = 3) -> pd.Series:
    """Test errors of ``seeds`` runs about ``mean``: mean - sd, mean, mean + sd with three (their sd
    is then ``sd``), the mean alone with one."""
    return pd.Series(np.linspace(mean - sd, mean + sd, seeds) if seeds > 1 else [mean])


def judged_share(baseline: pd.Series, switched: pd.Series, unswitched: pd.Series) -> pd.Series:
    """Table 11's claim at one starting batch size (8192), judged as the comparison judges it."""
    share = verdicts.share_closed(baseline, switched, unswitched)
    row = {"claim_kind": verdicts.CLOSES, "family": "table11: 8192", "start": 8192, **share}
    return verdicts.judge(pd.DataFrame([row])).iloc[0]


def trend_claim(kind: str = GROWS, family: str = "alone", **statistics) -> dict:
    """A trend claim's row with the statistics given and the rest of a clear one-seed trend over six
    batch sizes."""
    defaults = {"n": 6, "seeds": 1, "rho": 0.9, "p_up": 0.5, "p_down": 0.5, "change": 1.0, "change_se": math.nan}
    return {"claim_kind": kind, "family": family, **defaults, "dof": 0, **statistics}


def judged_points(points: pd.DataFrame, kind: str = GROWS) -> pd.Series:
    """A claim about ``points`` (key, x, seed, value) judged alone."""
    statistics = verdicts.trend_statistics(points)
    statistics.pop("means")
    return verdicts.judge(pd.DataFrame([trend_claim(kind, **statistics)])).iloc[0]


def runs(means, sd: float = 0.0, seeds: int = 3) -> pd.DataFrame:
    """Runs at the six batch sizes, their seeds at mean - sd, mean, mean + sd (sd ``sd`` at each)."""
    offsets = np.linspace(-sd, sd, seeds) if seeds > 1 else [0.0]
    return pd.DataFrame(
        [{"key": b, "x": b, "seed": s, "value": m + o} for b, m in zip(LENET, means) for s, o in enumerate(offsets)]
    )


# --- (a) a claim of no effect: the share of the gap a switch closes ------------------------------


def test_a_switch_that_leaves_part_of_the_gap_closes_part_of_it():
    """Table 11's case: 8.95 at 128 throughout, 9.25 after the switch from 8192, 10.43 at 8192
    throughout (sd 0.1): about 80% of the gap closes and the rest clearly remains, not "closes the
    gap" (which the earlier rule, no significant rise with the starting batch size, said)."""
    claim = judged_share(errors(8.95, 0.1), errors(9.25, 0.1), errors(10.43, 0.1))
    assert claim["share"] == pytest.approx(1 - (9.25 - 8.95) / (10.43 - 8.95))  # 0.797
    assert 0 < claim["share_low"] < claim["share"] < claim["share_high"] < 1
    assert claim["verdict"] == "closes part of the gap"
    assert not verdicts.counts_as_agreement(claim["verdict"])


def test_the_share_interval_is_fiellers_with_the_shared_baseline():
    """The interval's ends are the ratios r = 1 - share where (residual - r gap)^2 = t^2 var(residual
    - r gap), t at 9 runs - 3 groups and the groups' means each of variance sd^2 / 3: the residual
    and the gap both subtract the baseline's mean, so they covary by its variance."""
    claim = judged_share(errors(8.95, 0.1), errors(9.25, 0.1), errors(10.43, 0.1))
    residual, gap, t, var = 9.25 - 8.95, 10.43 - 8.95, stats.t.ppf(0.975, 6), 0.1**2 / 3
    for end in ("share_low", "share_high"):
        r = 1 - claim[end]
        assert (residual - r * gap) ** 2 == pytest.approx(t**2 * (2 * var + r * r * 2 * var - 2 * r * var))


def test_the_share_interval_narrows_with_the_spread():
    wide = judged_share(errors(8.95, 0.1), errors(9.25, 0.1), errors(10.43, 0.1))
    narrow = judged_share(errors(8.95, 0.02), errors(9.25, 0.02), errors(10.43, 0.02))
    assert narrow["share"] == pytest.approx(wide["share"])
    assert wide["share_low"] < narrow["share_low"] < narrow["share"] < narrow["share_high"] < wide["share_high"]


def test_a_switch_that_ends_at_the_baseline_closes_the_gap():
    claim = judged_share(errors(8.95, 0.01), errors(8.95, 0.01), errors(10.43, 0.01))
    assert claim["share"] == pytest.approx(1.0) and claim["share_low"] >= 1 - verdicts.MARGIN
    assert claim["verdict"] == "closes the gap" and verdicts.counts_as_agreement(claim["verdict"])


def test_a_share_above_the_margin_closes_the_gap_only_if_its_interval_is():
    """90% of the gap closed, but the interval reaches down to 78% (below 1 - margin) and up past 1:
    the share alone does not close the gap."""
    claim = judged_share(errors(8.95, 0.1), errors(9.10, 0.1), errors(10.43, 0.1))
    assert claim["share"] > 1 - verdicts.MARGIN > claim["share_low"]
    assert claim["verdict"] == "inconclusive"


@pytest.mark.parametrize(
    ("switched", "sd", "expected"),
    [(10.73, 0.1, "closes none of the gap"), (10.73, 0.3, "inconclusive"), (9.25, 0.3, "inconclusive")],
)
def test_a_switch_that_leaves_the_whole_gap_or_too_wide_an_interval_does_not_close_it(switched, sd, expected):
    """Worse than without the switch: none of the gap closes; with three times the spread the
    interval reaches past 0 or 1 and nothing can be said."""
    assert judged_share(errors(8.95, sd), errors(switched, sd), errors(10.43, sd))["verdict"] == expected


def test_one_seed_per_group_has_a_share_but_no_interval_and_no_verdict():
    claim = judged_share(errors(8.95, 0, 1), errors(9.25, 0, 1), errors(10.43, 0, 1))
    assert claim["share"] == pytest.approx(1 - 0.3 / 1.48)
    assert math.isnan(claim["share_low"]) and math.isnan(claim["share_high"])
    assert claim["verdict"] == "n/a"
    assert verdicts.verdict_in_words(claim) == "n/a: 80% of it from 8192; one seed: no interval"


# --- (b) the untrained null: a structural trend is "by construction" -----------------------------


def figure_with_null(trained, untrained, seeds: int) -> pd.DataFrame:
    """``trends.figure_points``' shape: the count on the probe batch per run at epoch 0 (``untrained``)
    and at its last epoch (``trained``), per batch size of LENET; seed s adds s / 100 to the trained
    count (the training's part, with no trend of its own across batch sizes)."""
    rows = []
    for seed in range(seeds):
        for b, last, first in zip(LENET, trained, untrained):
            run = {"dataset": "fashion_mnist", "batch_size": b, "seed": seed, "status": "ok"}
            parts = {"dead_zeros": 0, "other_zeros": 0}
            rows.append({**run, "epoch": 2, "count@batch": last + seed / 100, "genuine": last, **parts})
            rows.append({**run, "epoch": 0, "count@batch": first, "genuine": first, **parts})
    return pd.DataFrame(rows)


def judged_figure(trained, untrained, seeds: int) -> pd.Series:
    """The near-rank loss claim of a figure of these runs, judged."""
    claims = pd.DataFrame(
        trends.figure_claims("fig3", figure_with_null(trained, untrained, seeds), True, verdicts.FIGURES),
        columns=trends.TREND_COLUMNS,
    )
    return verdicts.judge(claims).set_index("measure").loc["near-rank loss"]


STRUCTURAL = [max(0, b - 1000) for b in LENET]  # what an SVD of a layer of 1000 cannot report


@pytest.mark.parametrize("seeds", [1, 3])
def test_a_trend_the_untrained_network_has_is_by_construction(seeds):
    """The count grows with the batch size exactly as the untrained network's does: the raw trend
    agrees, the trained part (each run minus its epoch 0) has none."""
    claim = judged_figure(STRUCTURAL, STRUCTURAL, seeds)
    assert claim["p_up"] <= significance.ALPHA and claim["null_n"] == 6
    assert claim["verdict"] == "by construction" and not verdicts.counts_as_agreement(claim["verdict"])
    assert math.isnan(claim["sd_needed"])
    assert "untrained: ρ +0.986, change +7.19e+03" in verdicts.verdict_in_words(claim)


@pytest.mark.parametrize(("seeds", "expected"), [(1, "agrees by ρ alone"), (3, "agrees")])
def test_a_trend_the_untrained_network_lacks_agrees(seeds, expected):
    claim = judged_figure([1, 2, 3, 5, 8, 13], [5] * 6, seeds)
    assert claim["null_p_up"] <= significance.ALPHA and claim["verdict"] == expected


@pytest.mark.parametrize("untrained", [[math.nan] * 6, [5, 5, 5, math.nan, math.nan, math.nan]])
def test_a_null_that_cannot_be_tested_leaves_a_measure_of_rank_without_a_verdict(untrained):
    """Epoch-0 values missing (for every batch size, or for three of six): the null's trend cannot
    be judged, so nothing shows the untrained network gives the trend, and nothing that it does not:
    no verdict of agreement, and none of construction."""
    claim = judged_figure([1, 2, 3, 5, 8, 13], untrained, 3)
    assert claim["verdict"] == "n/a: no null"


# --- (c) Holm's correction over a family -----------------------------------------------------------


def test_five_tests_at_0013_do_not_survive_holm():
    assert significance.holm([0.013]) == pytest.approx([0.013])
    assert significance.holm([0.013] * 5) == pytest.approx([0.065] * 5)
    assert (significance.holm([0.013] * 5) > significance.ALPHA).all()


@pytest.mark.parametrize(("size", "expected"), [(1, "agrees"), (3, "agrees"), (4, "no clear trend")])
@pytest.mark.parametrize("seeds", [1, 3])
def test_a_claim_that_agrees_alone_stops_agreeing_in_a_large_enough_family(size, expected, seeds):
    """Claims at p = 0.013 each, in one family: 3 x 0.013 = 0.039 still agrees, 4 x 0.013 = 0.052
    does not (with seeds, the change far beyond its spread: only Holm decides)."""
    spread = {"seeds": seeds, "change_se": 0.1, "dof": 12} if seeds > 1 else {}
    family = pd.DataFrame([trend_claim(p_up=0.013, p_down=0.99, family="one family", **spread)] * size)
    claims = verdicts.judge(family)
    words = expected + (" by ρ alone" if seeds == 1 and expected == "agrees" else "")
    assert (claims["verdict"] == words).all()
    assert (claims["family_size"] == size).all() and claims["p_adjusted"].iloc[0] == pytest.approx(0.013 * size)


def test_holm_is_taken_within_each_family_not_across_them():
    """Five claims at p = 0.013, each a family of its own (a table's test error, its training loss,
    ...): each agrees."""
    claims = verdicts.judge(pd.DataFrame([trend_claim(p_up=0.013, p_down=0.99, family=f"t{i}") for i in range(5)]))
    assert (claims["verdict"] == "agrees by ρ alone").all() and (claims["family_size"] == 1).all()


# --- (d) Fieller's interval and Holm's adjustment by hand ---------------------------------------------


def test_fieller_solves_the_quadratic():
    """a / b = 2 / 4 with var(a) 0.1, var(b) 0.2, cov 0.05, t = 2: the ratios r with
    (2 - 4 r)^2 <= 4 (0.1 + 0.2 r^2 - 0.1 r), i.e. 15.2 r^2 - 15.6 r + 3.6 <= 0."""
    low, high = significance.fieller(2.0, 4.0, 0.1, 0.2, 0.05, 2.0)
    root = math.sqrt(15.6**2 - 4 * 15.2 * 3.6)
    assert (low, high) == pytest.approx(((15.6 - root) / 30.4, (15.6 + root) / 30.4))  # 0.3504, 0.6759
    assert low < 0.5 < high


def test_fieller_has_no_interval_when_the_denominator_may_be_zero():
    """b = 0.1 with sd 0.1 is within t = 2 of zero: the set of ratios is unbounded."""
    assert all(math.isnan(end) for end in significance.fieller(1.0, 0.1, 0.01, 0.01, 0.0, 2.0))


def test_holm_by_hand_leaves_unknown_p_values_out():
    """Four known p-values (the NaN is no test): sorted 0.005, 0.01, 0.03, 0.04 are multiplied by 4,
    3, 2, 1 (0.02, 0.03, 0.06, 0.04) and kept from falling (the last becomes 0.06); at most 1."""
    adjusted = significance.holm([0.01, math.nan, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, math.nan, 0.06, 0.06, 0.02], nan_ok=True)
    assert significance.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])


# --- (e) the spread a one-seed agreement needs ----------------------------------------------------


def test_sd_needed_only_for_a_one_seed_agreement():
    unclear = verdicts.judge(pd.DataFrame([trend_claim(p_up=0.2, p_down=0.8)])).iloc[0]
    opposite = verdicts.judge(pd.DataFrame([trend_claim(p_up=0.99, p_down=0.01)])).iloc[0]
    assert unclear["verdict"] == "no clear trend" and math.isnan(unclear["sd_needed"])
    assert opposite["verdict"] == "opposite by ρ alone" and math.isnan(opposite["sd_needed"])


@pytest.mark.parametrize(("n", "kind", "change"), [(6, GROWS, 0.8), (5, FALLS, -0.8)])
def test_sd_needed_of_a_one_seed_agreement(n, kind, change):
    """|change| / (t at n (3 - 1) degrees of freedom * sqrt(2 / 3)): the pooled sd a rerun with 3
    seeds per point may have for its change to count."""
    p = {"p_up": 0.001, "p_down": 0.999} if kind == GROWS else {"p_up": 0.999, "p_down": 0.001}
    claim = verdicts.judge(pd.DataFrame([trend_claim(kind, n=n, change=change, **p)])).iloc[0]
    assert claim["verdict"] == "agrees by ρ alone"
    assert claim["sd_needed"] == pytest.approx(0.8 / (stats.t.ppf(0.975, 2 * n) * math.sqrt(2 / 3)))


def test_a_rerun_with_the_sd_needed_would_count_its_change():
    """The one-seed means rerun with 3 seeds at just under the sd needed agree; just over it, they are
    within the spread."""
    means = [8.8, 9.0, 9.1, 9.3, 9.4, 9.6]
    needed = judged_points(runs(means, seeds=1))["sd_needed"]
    assert judged_points(runs(means, 0.99 * needed))["verdict"] == "agrees"
    assert judged_points(runs(means, 1.01 * needed))["verdict"] == "within the spread"
