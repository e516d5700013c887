"""The appendix (Tables A1-A3, Figures A1-A3): singular values of seeded random matrices, the tables,
figures and comparison built from them, and what reruns when. The paper's numbers are reference
data here, never expected results."""

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import copy_project, jobs_after_editing, planned_jobs, snakemake
from rankgap import figures, random_comparison, random_matrices

DISTRIBUTIONS = list(random_matrices.DISTRIBUTIONS)

TINY = {
    "name": "tiny",
    "probe": {"fixed_size": 64},  # digits has 360 test images
    "experiments": {
        "unused": {"model": "lenet5", "datasets": ["digits"], "batch_sizes": [8], "epochs": 1, "weight_decay": 0.0}
    },
    "random_matrices": {
        "distributions": {"A1": "gaussian", "A3": "lognormal"},
        "repetitions": 4,
        "seed": 7,
        # a square size and two of the paper's (1000 x 10 and 1000 x 50: cheap), so the comparison has rows
        "sizes": [{"m": 60, "n": [6, 30, 60]}, {"m": 1000, "n": [10, 50]}],
    },
}
SIZES = [(60, 6), (60, 30), (60, 60), (1000, 10), (1000, 50)]
APPENDIX_RULES = {"random_spectra": 2 * len(SIZES), "random_table": 2, "random_figure": 2, "random_comparison": 1}


def numpy_sigma(distribution, m, n, repetitions, seed):
    """NumPy's full SVD of the same seeded matrices, one at a time: what the pipeline must agree with."""
    return np.stack(
        [
            np.linalg.svd(random_matrices.matrix(distribution, m, n, seed, r), full_matrices=False)[1]
            for r in range(repetitions)
        ]
    )


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("m, n", [(40, 12), (30, 30)])
def test_singular_values_are_numpys_svd_of_the_seeded_matrices(distribution, m, n):
    values = random_matrices.singular_values(distribution, m, n, repetitions=3, seed=0, threads=2)
    expected = numpy_sigma(distribution, m, n, 3, 0)
    assert values.shape == (3, n) and values.dtype == np.float64
    np.testing.assert_allclose(values, expected, rtol=1e-10, atol=1e-12 * expected.max())
    assert (np.diff(values, axis=1) <= 0).all()  # descending: sigma_min is the last column


def test_seed_makes_results_reproducible_and_repetitions_extend_them():
    five = random_matrices.singular_values("uniform", 50, 20, repetitions=5, seed=3, threads=2)
    np.testing.assert_array_equal(
        five, random_matrices.singular_values("uniform", 50, 20, repetitions=5, seed=3, threads=1)
    )
    # more repetitions add matrices and keep the first ones
    np.testing.assert_array_equal(five[:3], random_matrices.singular_values("uniform", 50, 20, repetitions=3, seed=3))
    assert not np.allclose(five, random_matrices.singular_values("uniform", 50, 20, repetitions=5, seed=4))
    assert len({random_matrices.matrix(d, 50, 20, 3, 0)[0, 0] for d in DISTRIBUTIONS}) == len(DISTRIBUTIONS)
    assert len({random_matrices.matrix("gaussian", 50, 20, 3, r)[0, 0] for r in range(5)}) == 5


def test_entries_follow_the_named_distributions():
    g, u, ln = (random_matrices.matrix(d, 400, 100, 0, 0) for d in ("gaussian", "uniform", "lognormal"))
    assert g.shape == (400, 100)  # drawn m x n: the tall orientation LAPACK gets
    assert abs(g.mean()) < 0.02 and abs(g.std() - 1) < 0.02
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    assert abs(u.std() - random_matrices.DISTRIBUTIONS["uniform"][1]) < 0.01  # the s of the tables' s(√m − √n)
    assert ln.min() > 0 and abs(np.log(ln).mean()) < 0.02 and abs(np.log(ln).std() - 1) < 0.02


@pytest.mark.slow
@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_gram_eigenvalues_resolve_sigma_min_as_the_svd_does_at_the_papers_hardest_size(distribution):
    """4000 x 4000 is the paper's hardest size for the Gram matrix (the smallest sigma_min against
    sigma_max, squared): its sigma_min still agrees with the SVD's far below what the tables print."""
    svd, gram = (
        random_matrices.singular_values(distribution, 4000, 4000, repetitions=1, seed=0, threads=2, method=method)[0]
        for method in ("svd", "gram")
    )
    assert gram[-1] == pytest.approx(svd[-1], rel=1e-6)
    np.testing.assert_allclose(gram, svd, rtol=1e-6)
    assert (np.diff(gram) <= 0).all()


def test_wide_sizes_are_refused():
    with pytest.raises(ValueError, match="tall orientation"):
        random_matrices.singular_values("gaussian", 10, 20, repetitions=2, seed=0)


def test_more_repetitions_change_the_summary():
    spectra = {(m, n): random_matrices.singular_values("gaussian", m, n, 8, 0) for m, n in [(60, 6), (60, 60)]}
    table = random_matrices.summary(spectra, "gaussian")
    assert list(zip(table["m"], table["n"])) == [(60, 6), (60, 60)] and (table["repetitions"] == 8).all()
    np.testing.assert_allclose(table["sigma_min_mean"], [spectra[s][:, -1].mean() for s in spectra])
    fewer = random_matrices.summary({s: v[:4] for s, v in spectra.items()}, "gaussian")
    assert not np.allclose(fewer["sigma_min_mean"], table["sigma_min_mean"])


def test_the_papers_repeated_rows_are_flagged():
    """Table A3 prints Table A2's values for A3's non-square m = 4000 sizes: the reference says so."""
    reference = random_comparison.read_reference()
    assert len(reference) == 45 and set(reference["table"]) == {"A1", "A2", "A3"}
    flagged = reference[reference["repeats"] != ""]
    assert set(flagged["table"]) == {"A3"} and set(flagged["repeats"]) == {"A2"}
    assert sorted(flagged["n"]) == [50, 500, 2000, 3000] and set(flagged["m"]) == {4000}


def test_comparison_puts_ours_beside_the_paper(tmp_path):
    path = tmp_path / "reference.csv"
    pd.DataFrame(
        {
            "table": ["X1", "X1", "X2", "X2"],
            "distribution": ["gaussian", "gaussian", "uniform", "uniform"],
            "m": [10, 10, 10, 20],
            "n": [2, 10, 2, 5],
            "expected_sigma_min": [2.0, 0.5, 2.0, 1.0],
        }
    ).to_csv(path)
    ours = pd.DataFrame(
        {
            "distribution": ["gaussian", "gaussian", "uniform"],
            "m": [10, 10, 10],
            "n": [2, 10, 2],
            "repetitions": [4, 4, 4],
            "sigma_min_mean": [2.5, 0.4, 1.5],
            "sigma_min_std": [0.2, 0.1, 0.2],
            "edge": [1.8, 0.1, 1.5],
        }
    )
    reference = random_comparison.read_reference(path)
    comparison = random_comparison.compare(ours, reference).set_index(["table", "m", "n"])
    assert sorted(comparison.index) == [("X1", 10, 2), ("X1", 10, 10), ("X2", 10, 2)]  # 20 x 5 was not computed
    assert comparison.loc[("X1", 10, 2), "diff"] == pytest.approx(0.5)
    assert comparison.loc[("X1", 10, 10), "diff_pct"] == pytest.approx(-20)
    assert comparison.loc[("X1", 10, 2), "ours_se"] == pytest.approx(0.1)
    assert comparison.loc[("X1", 10, 10), "square"] and not comparison.loc[("X1", 10, 2), "square"]
    assert comparison.loc[("X2", 10, 2), "paper_repeats"] == "X1"  # the same number as X1 prints
    notes = random_comparison.notes(comparison.reset_index(), len(reference))
    assert "max |diff| 25.00% (Table X1, 10 × 2)" in notes  # the repeated X2 row is left out of the summary
    assert "1 of the paper's sizes are not in this config" in notes
    # a size far from the paper says which of the two sits where Proposition 1 puts sigma_min
    assert "Table X1, 10 × 2: the paper is +11.1% from s(√m − √n) = 1.8000, ours +38.9%" in notes


def test_figure_has_a_panel_per_size_in_a_row_per_m():
    spectra = {
        (m, n): random_matrices.singular_values("gaussian", m, n, 3, 0)
        for m, n in [(20, 2), (20, 5), (20, 20), (30, 3)]
    }
    fig = figures.singular_value_panels(spectra, "title")
    panels = {
        (ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start): ax.get_title() for ax in fig.axes
    }
    assert sorted(panels) == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert [panels[p].split(":")[0] for p in sorted(panels)] == ["20 × 2", "20 × 5", "20 × 20", "30 × 3"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The appendix of a tiny config, built end to end by Snakemake's default target."""
    workdir = copy_project(tmp_path_factory.mktemp("random_matrices"))
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    snakemake(workdir, "--configfile", "tiny.yaml")
    return workdir


@pytest.mark.parametrize("appendix, distribution", [("A1", "gaussian"), ("A3", "lognormal")])
def test_tables_hold_sigma_min_of_numpys_svd_per_size(tiny, appendix, distribution):
    table = pd.read_csv(tiny / f"results/tables/table{appendix}.csv")
    assert list(zip(table["m"], table["n"])) == SIZES
    assert (table["repetitions"] == 4).all() and (table["distribution"] == distribution).all()
    sigma_min = [numpy_sigma(distribution, m, n, 4, 7)[:, -1] for m, n in SIZES]
    np.testing.assert_allclose(table["sigma_min_mean"], [s.mean() for s in sigma_min], rtol=1e-9)
    np.testing.assert_allclose(table["sigma_min_std"], [s.std(ddof=1) for s in sigma_min], rtol=1e-6)
    markdown = (tiny / f"results/tables/table{appendix}.md").read_text()
    assert markdown.count("|\n") == len(SIZES) + 2 and "1000 × 50" in markdown
    tex = (tiny / f"results/tables/table{appendix}.tex").read_text()
    assert r"\begin{tabular}" in tex and r"1000 $\times$ 50" in tex
    assert (tiny / f"results/figures/fig{appendix}.pdf").read_bytes().startswith(b"%PDF")
    assert (tiny / f"results/figures/fig{appendix}.png").read_bytes().startswith(b"\x89PNG")


def test_comparison_lists_the_papers_sizes_we_computed(tiny):
    comparison = pd.read_csv(tiny / "results/report/tiny/random_matrices_comparison.csv")
    assert sorted(zip(comparison["table"], comparison["m"], comparison["n"])) == [
        ("A1", 1000, 10),
        ("A1", 1000, 50),
        ("A3", 1000, 10),
        ("A3", 1000, 50),
    ]
    for row in comparison.itertuples():
        ours = pd.read_csv(tiny / f"results/tables/table{row.table}.csv").query("m == @row.m and n == @row.n")
        assert row.ours == pytest.approx(ours["sigma_min_mean"].iloc[0])
        assert row.diff == pytest.approx(row.ours - row.paper)
        assert row.diff_pct == pytest.approx(100 * row.diff / row.paper)
    markdown = (tiny / "results/report/tiny/random_matrices_comparison.md").read_text()
    assert markdown.count("|\n") == len(comparison) + 2
    assert "41 of the paper's sizes are not in this config" in markdown


def test_rerun_after_success_does_nothing(tiny):
    assert planned_jobs(tiny, "--configfile", "tiny.yaml") == {}


@pytest.mark.parametrize(
    "module, rules",
    [
        ("random_matrices", {**APPENDIX_RULES, "all": 1}),
        ("figures", {"random_figure": 2, "all": 1}),
        ("tables", {"random_table": 2, "random_comparison": 1, "all": 1}),
    ],
)
def test_editing_a_module_reruns_exactly_its_rules(tiny, module, rules):
    assert jobs_after_editing(tiny, module, "--configfile", "tiny.yaml") == rules


def test_changing_repetitions_reruns_the_appendix_and_changes_it(tiny):
    config = yaml.safe_load(yaml.safe_dump(TINY))
    config["random_matrices"]["repetitions"] = 6
    (tiny / "more.yaml").write_text(yaml.safe_dump(config))
    assert planned_jobs(tiny, "--configfile", "more.yaml") == {**APPENDIX_RULES, "all": 1}
    before = pd.read_csv(tiny / "results/tables/tableA1.csv")
    snakemake(tiny, "--configfile", "more.yaml")
    after = pd.read_csv(tiny / "results/tables/tableA1.csv")
    assert (after["repetitions"] == 6).all()
    assert not np.allclose(after["sigma_min_mean"], before["sigma_min_mean"])


def test_paper_config_plans_the_appendix_and_demo_and_smoke_do_not(tmp_path):
    project = copy_project(tmp_path)
    assert planned_jobs(project, "random_matrices") == {
        "random_spectra": 45,
        "random_table": 3,
        "random_figure": 3,
        "random_comparison": 1,
        "random_matrices": 1,
    }
    for config in ("config/demo.yaml", "config/smoke.yaml"):
        assert not any(rule.startswith("random") for rule in planned_jobs(project, "--configfile", config))
