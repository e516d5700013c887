"""The comparison with the paper on small synthetic frames: Spearman trend checks, their critical
values, and which loss the tables and the comparison show (no training, no Snakemake)."""

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from rankgap import paper, tables


def brute_force_tail(n: int, rho: float) -> float:
    """The fraction of the n! orderings of n untied values whose rho (Pearson's correlation of the
    ranks, computed directly) is at least ``rho``."""
    rhos = [np.corrcoef(np.arange(n), order)[0, 1] for order in itertools.permutations(range(n))]
    return float(np.mean(np.array(rhos) >= rho - 1e-9))


@pytest.mark.parametrize("n", [4, 5, 6, 7])
def test_critical_value_is_the_smallest_rho_rare_enough(n):
    critical = paper.critical_rho(n)
    assert brute_force_tail(n, critical) <= paper.ALPHA
    # the next lower rho an ordering can reach (one more unit of the sum of squared differences,
    # which is always even) is reached by more than 5% of the orderings
    step = 2 * 6 / (n * (n * n - 1))
    assert brute_force_tail(n, critical - step) > paper.ALPHA


def test_critical_value_for_six_points_is_the_textbook_one():
    assert paper.critical_rho(6) == pytest.approx(0.829, abs=5e-4)  # 1 - 6 * 6 / 210 = 0.8286
    assert paper.critical_rho(5) == pytest.approx(0.9)  # the paper's VGG and ResNet tables: 5 batch sizes


@pytest.mark.parametrize("n", [2, 3])
def test_too_few_points_have_no_critical_value(n):
    """Even a perfect ordering of 3 points happens by chance in 1 of 6 orderings (17% > 5%)."""
    assert math.isnan(paper.critical_rho(n))
    assert paper.verdict(1.0, paper.critical_rho(n)) == "n/a"


def test_students_t_tail_is_exact():
    stats = pytest.importorskip("scipy.stats")
    for df in range(1, 31):
        for t in (0.0, 0.5, 1.7, 3.2, 8.0):
            assert paper.t_upper_tail(t, df) == pytest.approx(stats.t.sf(t, df), rel=1e-9, abs=1e-15)
    t = stats.t.ppf(1 - paper.ALPHA, 18)
    assert paper.critical_rho(20) == pytest.approx(t / math.sqrt(18 + t * t), rel=1e-9)


def test_t_approximation_takes_over_close_to_the_exact_value():
    """Just above the enumerated range, the t value is within 0.03 of the exact count (0.600 for n = 9)."""
    n = paper.EXACT_UP_TO + 1
    exact = paper._exact_critical_rho(n, paper.ALPHA)  # 9! = 362,880 orderings
    assert exact == pytest.approx(0.6)
    assert abs(paper.critical_rho(n) - exact) < 0.03
    assert paper.critical_rho(n) > paper.critical_rho(n + 1) > paper.critical_rho(30) > 0


def test_spearman_is_the_correlation_of_ranks_with_average_ties():
    assert paper.spearman([1, 2, 3, 4], [10, 20, 30, 1000]) == pytest.approx(1.0)
    assert paper.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties: ranks 1.5, 1.5, 3, 4
    tied = np.corrcoef([1, 2, 3, 4], [1.5, 1.5, 3, 4])[0, 1]
    assert paper.spearman([1, 2, 3, 4], [0, 0, 1, 2]) == pytest.approx(tied)
    assert math.isnan(paper.spearman([1, 2, 3], [5, 5, 5]))  # constant: no trend to speak of
    assert paper.spearman([1, 2, 3, 4], [1, float("nan"), 2, 3]) == pytest.approx(1.0)  # the pair with NaN is left out


def reference_series(table: int, column: str) -> tuple[pd.Series, pd.Series]:
    reference = paper.reference_tables()
    rows = reference[(reference["table"] == table) & reference["switch_to"].isna()]
    return rows["batch_size"], rows[column]


def test_the_papers_table7_train_loss_is_one_outlier_off_a_rising_trend():
    """Table 7's train loss rises with batch size except 1.1031 at batch 512, the largest of the six:
    the old check (never decreasing) said 'no'.  Moving the second value to the top is four rank
    steps, not one: rho = 1 - 6 * 20 / 210 = 3/7, short of 0.829, so no clear trend; the same
    series with 512's value in place (any value between 0.0785 and 0.1561) has rho 1 and agrees."""
    batch, loss = reference_series(7, "train_loss")
    assert loss.tolist()[1] == 1.1031 and loss.drop(loss.index[1]).is_monotonic_increasing
    rho = paper.spearman(batch, loss)
    assert rho == pytest.approx(3 / 7)
    assert paper.verdict(rho, paper.critical_rho(len(batch))) == "no clear trend"
    in_place = loss.copy()
    in_place.iloc[1] = 0.1031
    assert paper.verdict(paper.spearman(batch, in_place), paper.critical_rho(6)) == "agrees"
    # its test error, the generalization gap itself, rises at every step
    batch, error = reference_series(7, "test_error_pct")
    assert paper.verdict(paper.spearman(batch, error), paper.critical_rho(6)) == "agrees"


def test_one_adjacent_swap_still_agrees_and_a_falling_series_is_opposite():
    critical = paper.critical_rho(6)
    swapped = paper.spearman(range(6), [1, 3, 2, 4, 5, 6])
    assert swapped == pytest.approx(1 - 6 * 2 / 210)  # 0.943
    assert paper.verdict(swapped, critical) == "agrees"
    assert paper.verdict(paper.spearman(range(6), [6, 5, 4, 3, 1, 2]), critical) == "opposite"
    assert paper.verdict(paper.spearman(range(6), [3, 1, 6, 2, 5, 4]), critical) == "no clear trend"
    # the claim that a measure does not grow: it fails only when the measure grows
    assert paper.verdict(swapped, critical, paper.STAYS) == "opposite"
    assert paper.verdict(-swapped, critical, paper.STAYS) == "agrees"
    assert paper.verdict(0.5, critical, paper.STAYS) == "agrees"


# --- synthetic runs -----------------------------------------------------------------------------

LENET = [128, 512, 1024, 2048, 4096, 8192]


def summary(batch_size, seed, train_loss, test_error, penalty=0.05, switch=None, dataset="fashion_mnist"):
    """A summary.json as training writes it: cross-entropy as *_loss, the objective beside it."""
    test_loss = 2 * train_loss
    return {
        "status": "ok",
        "batch_size": batch_size,
        "seed": seed,
        "dataset": dataset,
        "switch": switch,
        "train_error": 0.0,
        "test_error": test_error,
        "train_loss": train_loss,
        "test_loss": test_loss,
        "weight_penalty": penalty,
        "train_objective": train_loss + penalty,
        "test_objective": test_loss + penalty,
    }


def write_summaries(folder, rows):
    paths = []
    for i, row in enumerate(rows):
        path = folder / f"run{i}" / "summary.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(row))
        paths.append(path)
    return paths


OBJECTIVE = {"train": "objective", "test": "objective"}


@pytest.fixture
def runs(tmp_path):
    """table5 (plain, 6 batch sizes, 2 seeds: train loss rises, one seed with a swap; test error
    falls) and table11 (the batch-128 baseline and four switch runs), as read_summaries gives them."""
    plain = []
    for seed, order in ((0, [1, 2, 3, 4, 5, 6]), (1, [1, 3, 2, 4, 5, 6])):
        plain += [summary(b, seed, 0.01 * k, 20.0 - k) for b, k in zip(LENET, order)]
    switch = [summary(128, 0, 0.07, 7.0)] + [
        summary(b, 0, 0.07, e, switch={"batch_size": 128, "epoch": 30})
        for b, e in zip([4096, 8192, 16384, 24576], [7.5, 7.9, 8.3, 8.8])
    ]  # test error rising with the starting batch size
    return {
        "table5": tables.read_summaries(write_summaries(tmp_path / "t5", plain), OBJECTIVE),
        "table11": tables.read_summaries(write_summaries(tmp_path / "t11", switch), OBJECTIVE),
    }


def figure_totals(counts: dict[str, list[float]]) -> pd.DataFrame:
    """rank.total_counts' shape: one row per dataset, batch size and seed; here all of the count
    genuine, and a structural deficit of batch size / 64 beside it."""
    rows = [
        {
            "dataset": dataset,
            "batch_size": b,
            "seed": 0,
            "epoch": 2,
            "status": "ok",
            "count": c,
            "deficit": b // 64,
            "dead_zeros": 0,
            "other_zeros": 0,
            "genuine": c,
        }
        for dataset, values in counts.items()
        for b, c in zip(LENET, values)
    ]
    return pd.DataFrame(rows)


def test_trend_table_has_ours_and_the_papers_rho_for_every_artifact_and_measure(runs):
    totals = {"fig3": figure_totals({"fashion_mnist": [0, 1, 2, 5, 9, 20], "mnist": [9, 8, 7, 6, 5, 4]})}
    claims = paper.trends(totals, runs)
    assert claims[["artifact", "dataset", "measure"]].values.tolist() == [
        ["fig3", "fashion_mnist", "near-rank loss"],
        ["fig3", "fashion_mnist", "count + structural deficit"],
        ["fig3", "mnist", "near-rank loss"],
        ["fig3", "mnist", "count + structural deficit"],
        ["table5", "fashion_mnist", "train loss"],
        ["table5", "fashion_mnist", "test error"],
        ["table11", "fashion_mnist", "test error"],
    ]
    assert claims["n"].tolist() == [6, 6, 6, 6, 6, 6, 5]
    for column in ("rho", "critical"):
        assert claims[column].notna().all()
    assert claims["critical"].tolist() == pytest.approx([paper.critical_rho(6)] * 6 + [paper.critical_rho(5)])
    figures, table5, table11 = claims.iloc[:4], claims.iloc[4:6], claims.iloc[6]
    # mnist's count falls (9 ... 4), but with the deficit beside it (2 ... 128) the sum rises
    assert figures["verdict"].tolist() == ["agrees", "agrees", "opposite", "agrees"]
    assert figures["values"].iloc[3] == "128: 11, 512: 16, 1024: 23, 2048: 38, 4096: 69, 8192: 132"
    assert (figures["paper_verdict"] == "n/a: no numbers").all() and figures["paper_rho"].isna().all()
    assert figures["driven by"].iloc[0].startswith("genuine near-rank loss")
    # table5: ours from the seed means (train loss 0.01, 0.025, 0.025, ...: rho below 1), the seeds' own rhos beside
    assert table5["verdict"].tolist() == ["agrees", "opposite"]
    assert table5["seed_min"].iloc[0] == pytest.approx(1 - 6 * 2 / 210)
    assert table5["seed_max"].iloc[0] == pytest.approx(1)
    # the paper's own Table 5 train loss and test error rise at every batch size
    assert table5["paper_rho"].tolist() == pytest.approx([1.0, 1.0])
    assert table5["paper_verdict"].tolist() == ["agrees", "agrees"] and (table5["paper_n"] == 6).all()
    # table11: the claim is that the switch closes the gap; our synthetic test error grows, the paper's does not
    assert "does not grow with the starting batch size" in table11["claim"]
    assert table11["rho"] == pytest.approx(1.0) and table11["verdict"] == "opposite"
    reference = paper.reference_tables()
    table = reference[reference["table"] == 11]
    assert table11["paper_n"] == 5 and table11["paper_rho"] == pytest.approx(
        paper.spearman(table["batch_size"], table["test_error_pct"])
    )
    assert table11["paper_verdict"] == "agrees"
    assert math.isnan(table11["seed_min"])  # one seed: no range


def test_trends_read_the_reference_they_are_given(runs):
    reference = paper.reference_tables()
    falling = reference.assign(train_loss=-reference["train_loss"])
    claims = paper.trends({}, {"table5": runs["table5"]}, falling)
    assert claims["paper_rho"].iloc[0] == pytest.approx(-1.0) and claims["paper_verdict"].iloc[0] == "opposite"


def test_comparison_markdown_states_the_criterion_and_the_loss(runs, tmp_path):
    claims = paper.trends({"fig3": figure_totals({"mnist": [0, 1, 2, 3, 4, 5]})}, runs)
    numbers = paper.compare_tables({"table5": tables.metrics_table(runs["table5"])})
    for loss in tables.REPORTED_LOSS:
        paper.write(
            numbers,
            claims,
            tmp_path / "c.csv",
            tmp_path / "trends.csv",
            tmp_path / f"{loss}.md",
            {"train": loss, "test": loss},
        )
    text = (tmp_path / "objective.md").read_text()
    assert "reported_loss: {train: objective, test: objective}" in text and "weight-decay penalty" in text
    assert "cross-entropy alone" in (tmp_path / "cross_entropy.md").read_text()
    assert f"{paper.critical_rho(6):.3f} for n = 6" in text  # the criterion, with the values it computes
    header = next(line for line in text.splitlines() if line.startswith("| Artifact"))
    for column in (
        "Claim",
        "n",
        "Critical ρ (5%)",
        "Our ρ",
        "Seed range",
        "Verdict",
        "Paper ρ",
        "Paper verdict",
        "Driven by",
    ):
        assert f" {column} " in header
    assert "3 of 5 checks agree with the paper's claims (2 opposite)" in text  # table5's test error, table11
    assert "the paper's own numbers agree in 3 of the 3 checks they allow" in text


def test_trends_read_back_as_written(runs, tmp_path):
    claims = paper.trends({"fig3": figure_totals({"mnist": [0, 1, 2, 3, 4, 5]})}, runs)
    paper.write(paper.compare_tables({}), claims, tmp_path / "c.csv", tmp_path / "t.csv", tmp_path / "c.md", OBJECTIVE)
    again = paper.read_trends(tmp_path / "t.csv")
    assert again["paper_verdict"].iloc[0] == "n/a: no numbers"  # text, not a missing value
    pd.testing.assert_frame_equal(again.fillna({"driven by": ""}), claims.fillna({"driven by": ""}), check_dtype=False)


def test_a_variant_of_a_paper_table_stands_beside_it(runs):
    """table9_avg_pooling is compared with Table 9, as table9 is; other names with nothing."""
    shown = tables.metrics_table(runs["table5"])
    numbers = paper.compare_tables({"table5": shown, "table5_cosine": shown, "tables_extra": shown})
    assert set(numbers["artifact"]) == {"table5", "table5_cosine"}
    mine, variant = (numbers[numbers["artifact"] == name] for name in ("table5", "table5_cosine"))
    assert len(variant) == len(mine) == 6 * 4 and variant["paper"].tolist() == mine["paper"].tolist()
    claims = paper.trends({}, {"table5_cosine": runs["table5"]})
    assert claims["paper_n"].notna().all()  # the paper's own trend, for the variant too


def test_reported_loss_switches_the_numbers_the_tables_show(tmp_path):
    paths = write_summaries(tmp_path, [summary(b, 0, 0.01 * i, 5.0, penalty=0.1 * i) for i, b in enumerate(LENET)])
    shown = {}
    for loss in tables.REPORTED_LOSS:
        table = tables.metrics_table(tables.read_summaries(paths, {"train": loss, "test": loss}))
        caption = tables.loss_caption("Table 5: LeNet-5", {"train": loss, "test": loss})
        tables.write(table, tmp_path / f"{loss}.csv", tmp_path / f"{loss}.md", tmp_path / f"{loss}.tex", caption)
        shown[loss] = table
        # both kinds of loss stay in the CSV whichever is shown
        csv = pd.read_csv(tmp_path / f"{loss}.csv")
        for column in tables.LOSSES:
            assert column in csv and column + "_std" in csv
        assert tables.REPORTED_LOSS[loss] in (tmp_path / f"{loss}.md").read_text()
    objective, cross_entropy = shown["objective"], shown["cross_entropy"]
    assert cross_entropy["train_loss"].tolist() == pytest.approx([0.01 * i for i in range(6)])
    assert objective["train_loss"].tolist() == pytest.approx([0.11 * i for i in range(6)])
    assert objective["test_loss"].tolist() == pytest.approx([0.02 * i + 0.1 * i for i in range(6)])
    assert objective["train_cross_entropy"].tolist() == cross_entropy["train_loss"].tolist()
    assert "0.5500" in (tmp_path / "objective.md").read_text()  # 0.05 + 0.5: four decimals, as the paper prints
    assert "0.5500" not in (tmp_path / "cross_entropy.md").read_text()
    assert r"\lambda" in (tmp_path / "objective.tex").read_text()
    # the comparison compares what the table shows
    numbers = {loss: paper.compare_tables({"table5": shown[loss]}) for loss in shown}
    train = {loss: n.loc[n["metric"] == "train_loss", "ours"].tolist() for loss, n in numbers.items()}
    assert train["objective"] == pytest.approx(objective["train_loss"].tolist())
    assert train["cross_entropy"] == pytest.approx(cross_entropy["train_loss"].tolist())
    # one kind per split: the training objective beside the test cross-entropy
    mixed = tables.metrics_table(tables.read_summaries(paths, {"train": "objective", "test": "cross_entropy"}))
    assert mixed["train_loss"].tolist() == objective["train_loss"].tolist()
    assert mixed["test_loss"].tolist() == cross_entropy["test_loss"].tolist()
    caption = tables.loss_caption("T", {"train": "objective", "test": "cross_entropy"})
    assert (
        caption
        == f"T. Loss: train: {tables.REPORTED_LOSS['objective']}; test: {tables.REPORTED_LOSS['cross_entropy']}."
    )


def test_summaries_of_older_code_are_refused_by_name(tmp_path):
    old = summary(128, 0, 0.1, 5.0)
    for key in tables.RECORDED:
        del old[key]
    paths = write_summaries(tmp_path, [summary(64, 0, 0.1, 5.0), old])
    for loss in tables.REPORTED_LOSS:
        with pytest.raises(ValueError, match=rf"{paths[1]}.*older training code"):
            tables.read_summaries(paths, {"train": loss, "test": loss})
    with pytest.raises(ValueError, match="reported_loss.train is 'hinge'"):
        tables.read_summaries(paths[:1], {"train": "hinge", "test": "objective"})
