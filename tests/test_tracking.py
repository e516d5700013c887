"""Which measure tracks the gap (tracking.py): planted runs where one measure follows the gap, one
only the batch size and one nothing, each must land in its category; the statistics by hand."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rankgap import tracking


def test_one_stratum_is_spearmans_rho():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=20), rng.normal(size=20)
    assert tracking.stratified_rho(x, y, np.zeros(20)) == pytest.approx(stats.spearmanr(x, y).statistic)


def test_ranks_are_taken_within_strata():
    """Two strata whose levels differ: pooled, the levels make a correlation; within them there is none."""
    x = np.array([1, 2, 3, 4, 11, 12, 13, 14], float)
    y = np.array([4, 3, 2, 1, 14, 13, 12, 11], float)  # falls within each stratum, rises between them
    assert stats.spearmanr(x, y).statistic > 0
    assert tracking.stratified_rho(x, y, np.repeat([0, 1], 4)) == pytest.approx(-1)


def test_the_permutation_p_of_a_perfect_rank_is_about_one_over_n_factorial():
    x = np.arange(6.0)
    p = tracking.permutation_p(x, x, np.zeros(6), permutations=20_000)
    assert p == pytest.approx(2 / 720, abs=0.002)  # two-sided: both perfect orderings
    assert tracking.permutation_p(x, x[::-1].copy() * 0 + 1, np.zeros(6)) != tracking.permutation_p(x, x, np.zeros(6))


def planted_runs(seed=0):
    """Runs of one architecture at two batch sizes, six conditions each (a baseline and five
    remedies), three seeds; the gap varies across remedies at each batch size.  ``follows``
    follows the gap, ``batch_only`` moves with the batch size and nothing else, ``noise`` is noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for batch in (128, 8192):
        for remedy in range(6):
            for s in range(3):
                gap = (8.0 if batch == 128 else 2.0) + remedy * 0.5 + rng.normal(0, 0.05)
                rows.append(
                    {
                        "experiment": f"r{remedy}",
                        "dataset": "d",
                        "batch_size": batch,
                        "seed": s,
                        "kind": "plain",  # the batch-size question takes them all here
                        "architecture": "lenet5 bn",
                        "condition": f"r{remedy} {batch}",
                        "gap": gap,
                        "test_error": 9 + rng.normal(0, 0.3),
                        "follows@all": gap + rng.normal(0, 0.05),
                        "batch_only@all": (1.0 if batch == 128 else 2.0) + rng.normal(0, 0.001),
                        "noise@all": rng.normal(),
                    }
                )
    return pd.DataFrame(rows)


def test_each_planted_measure_lands_in_its_category(monkeypatch):
    monkeypatch.setattr(tracking, "TESTED", ["follows", "batch_only", "noise"])
    monkeypatch.setattr(tracking, "MEASURES", {m: type("M", (), {"label": m}) for m in tracking.TESTED})
    runs = planted_runs()
    frame = tracking.correlations(runs)
    answer = tracking.categories(frame).set_index("measure")["category"]
    assert answer["follows"] == "tracks the gap"
    assert answer["batch_only"] == "tracks the batch size only"
    assert answer["noise"] == "none shown"
    held = frame.query("question == 'held_fixed' and target == 'gap'").set_index("measure")
    assert held.at["follows", "rho_low"] <= held.at["follows", "rho"] <= held.at["follows", "rho_high"]
    assert (held["family"] == 3).all() and (held["p_holm"] >= held["p_value"]).all()


def test_a_measure_constant_within_every_architecture_is_not_tested(monkeypatch):
    """The exact zeros an architecture has by construction differ between architectures and nowhere
    else: every question ranks within architectures, so it has nothing to test (not "none shown")."""
    monkeypatch.setattr(tracking, "TESTED", ["noise", "by_construction"])
    runs = planted_runs()
    other = runs.assign(architecture="lenet5 linear", condition=runs["condition"] + " linear")
    runs = pd.concat([runs, other], ignore_index=True)
    runs["by_construction@all"] = np.where(runs["architecture"] == "lenet5 bn", 0.0, 1687.0)
    columns = tracking.measure_columns(runs)
    assert "by_construction@all" not in columns
    assert "noise@all" in columns


def test_a_panel_without_a_held_fixed_rho_says_n_a_not_nan():
    row = {"label": "count at t·σmax", "layer": "act1", "category": "none shown", "held_fixed_gap_rho": np.nan}
    assert (
        tracking.panel_title(row)
        == "count at t·σmax, act1\nheld fixed ρ n/a (nothing to rank within strata): none shown"
    )
    assert "ρ +0.78:" in tracking.panel_title({**row, "held_fixed_gap_rho": 0.781})


def test_the_held_fixed_figure_plots_what_the_held_fixed_rho_ranks(monkeypatch):
    """Its deviations, ranked within their strata, give the held-fixed rho of the correlations; a run
    alone in its stratum (nothing to rank it against) is left out, and each stratum's deviations sum to 0."""
    monkeypatch.setattr(tracking, "TESTED", ["follows", "noise"])
    monkeypatch.setattr(tracking, "MEASURES", {m: type("M", (), {"label": m}) for m in tracking.TESTED})
    runs = planted_runs()
    alone = runs.iloc[[0]].assign(batch_size=512, condition="r0 512", gap=40.0, **{"follows@all": 40.0})
    runs = pd.concat([runs, alone], ignore_index=True)
    held = tracking.correlations(runs).query("question == 'held_fixed' and target == 'gap'").set_index("measure")
    for measure in ("follows", "noise"):
        deviations = tracking.held_fixed_deviations(runs, f"{measure}@all")
        assert len(deviations) == len(runs) - 1 and 512 not in set(deviations["batch_size"])
        assert deviations.groupby("stratum")[["x", "y"]].sum().abs().max().max() < 1e-9
        rho = tracking.stratified_rho(deviations["x"], deviations["y"], deviations["stratum"])
        assert rho == pytest.approx(held.at[measure, "rho"])


def test_the_held_fixed_rho_is_split_by_where_it_comes_from(monkeypatch):
    """Switch runs whose gap and measure both follow the batch size they start at: the measure ranks
    with the gap within the switch runs, and not within a batch size, where it is noise; the pooled
    held-fixed rho mixes both, and each part counts only the runs it ranks."""
    monkeypatch.setattr(tracking, "TESTED", ["start"])
    monkeypatch.setattr(tracking, "MEASURES", {"start": type("M", (), {"label": "start"})})
    rng = np.random.default_rng(2)
    runs = planted_runs().assign(**{"start@all": lambda r: rng.normal(size=len(r))})
    switched = pd.DataFrame(
        {
            "experiment": "switch",
            "dataset": "d",
            "batch_size": start,
            "seed": s,
            "kind": "switch",
            "architecture": "lenet5 bn",
            "condition": f"switch {start}",
            "gap": 2 + np.log2(start) / 4 + rng.normal(0, 0.05),
            "test_error": 9 + rng.normal(0, 0.3),
            "start@all": np.log2(start) + rng.normal(0, 0.01),
        }
        for start in (512, 2048, 8192, 24576)
        for s in range(3)
    )
    runs = pd.concat([runs, switched], ignore_index=True)
    frame = tracking.correlations(runs).query("target == 'gap'").set_index("question")
    assert frame.at["within_switch", "rho"] > 0.9 and frame.at["within_switch", "p_holm"] <= tracking.ALPHA
    assert frame.at["within_batch_size", "p_holm"] > tracking.ALPHA
    assert (frame.at["within_switch", "ranked"], frame.at["within_batch_size", "ranked"]) == (12, 36)
    assert frame.at["held_fixed", "ranked"] == 48
