"""Every artifact of the paper is a target built from exactly the runs it needs."""

import re

import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import save_file

from conftest import REPO, copy_project, planned_jobs, run_settings, snakemake
from rankgap import configuration, cpu_speed, data, models, paper, registry, resources, significance


@pytest.mark.parametrize(
    "name, variant, classes, options, parameters",
    [
        ("resnet56", "bn", 10, {}, 853_018),
        ("resnet56", "bn", 100, {}, 858_868),
        ("vgg16", "bn", 10, {"classifier": "single"}, 14_728_266),
        ("vgg16", "bn", 10, {"classifier": "mlp"}, 15_253_578),
    ],
)
def test_parameter_counts_match_the_published_models(name, variant, classes, options, parameters):
    model = models.build(name, variant, 3, 32, classes, **options)
    assert sum(p.numel() for p in model.parameters()) == parameters


@pytest.mark.parametrize("name, size, probes", [("lenet5", 28, 4), ("vgg16", 32, 13), ("resnet56", 32, 55)])
def test_every_activation_is_probed_and_the_forward_pass_works(name, size, probes):
    channels = 1 if name == "lenet5" else 3
    model = models.build(name, "bn", channels, size, 10).eval()
    assert len(models.select_layers(model)) == probes
    assert model(torch.zeros(2, channels, size, size)).shape == (2, 10)


@pytest.mark.parametrize("shape", [(64, 6, 28, 28), (3, 2, 7, 9), (2, 3, 8, 5)])
def test_cpu_max_pooling_gives_pytorchs_outputs_and_gradients(shape):
    """cpu_speed.MaxPool2x2 stands in for nn.MaxPool2d(2) on the CPU, for speed: training must not notice."""
    torch.manual_seed(0)
    for x in (torch.randn(shape), torch.randint(0, 3, shape).float()):  # the second is full of ties
        x.requires_grad_()
        expected, ours = torch.nn.functional.max_pool2d(x, 2), cpu_speed.MaxPool2x2()(x)
        grad = torch.randn_like(expected)
        assert torch.equal(ours, expected)
        assert torch.equal(torch.autograd.grad(ours, x, grad)[0], torch.autograd.grad(expected, x, grad)[0])


@pytest.fixture(scope="module")
def paper_project(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("paper"))


@pytest.mark.parametrize(
    "target, jobs",
    [
        (
            "results/figures/fig3.pdf",
            # each run probed three ways (its batch, the fixed training and test probes), untrained and trained
            {"dataset": 2, "train": 12, "probe": 12 * 3 * 2, "spectra": 12 * 3 * 2, "rankloss": 1, "figure": 1},
        ),
        ("results/tables/table1.csv", {"dataset": 1, "train": 5, "table": 1}),
        ("results/tables/table11.csv", {"dataset": 1, "train": 4 + 1, "table": 1}),  # 4 switch runs + the baseline
        (
            "results/figures/fig2.png",
            {"dataset": 2, "train": 10, "probe": 10 * 3 * 2, "spectra": 10 * 3 * 2, "rankloss": 1, "figure": 1},
        ),
    ],
)
def test_a_target_schedules_exactly_its_runs(paper_project, target, jobs):
    assert planned_jobs(paper_project, target) == jobs


def test_the_whole_paper_is_the_default_target(paper_project):
    jobs = planned_jobs(paper_project)
    # 20 CIFAR runs, 36 LeNet-5 runs, 4 switch runs; every run but the switch runs is probed three
    # ways (a figure plots each: its batch, and the fixed training and test probes), at epochs 0 and 60
    assert jobs["train"] == 60 and jobs["probe"] == jobs["spectra"] == 56 * 3 * 2
    assert jobs["table"] == 11 and jobs["figure"] == 6 + 6 and jobs["comparison"] == 1  # + the decompositions


TINY = {"mnist": (1, 28, 10), "fashion_mnist": (1, 28, 10), "cifar10": (3, 32, 10), "cifar100": (3, 32, 100)}


def tiny_grid(project):
    """config.yaml shrunk to two epochs, batch sizes 8 and 16, and 64 training images per dataset
    (canonical files the test makes: there is no internet here); the appendix to two small sizes."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["threads"] = {"train": 1, "analysis": 1}
    for experiment in config["experiments"].values():
        experiment.update(epochs=2, batch_sizes=[8, 16])
        if "switch" in experiment:
            experiment["switch"] = {"batch_size": 8, "epoch": 1}
    config["tables"]["table11"]["baseline"]["batch_size"] = 8
    config["random_matrices"].update(repetitions=2, sizes=[{"m": 40, "n": [4, 40]}])
    config["probe"]["fixed_size"] = 32  # the tiny files' 32 test images (the registry's sizes are the real ones)
    (project / "tiny.yaml").write_text(yaml.safe_dump(config))
    g = torch.Generator().manual_seed(0)
    for name, (channels, size, classes) in TINY.items():
        tensors = {}
        for split, n in (("train", 64), ("test", 32)):
            tensors[f"x_{split}"] = torch.randint(0, 256, (n, channels, size, size), generator=g, dtype=torch.uint8)
            tensors[f"y_{split}"] = torch.randint(0, classes, (n,), generator=g)
        (project / "data").mkdir(exist_ok=True)
        save_file(tensors, str(project / "data" / f"{name}.safetensors"))
    return config


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("tiny"))
    config = tiny_grid(project)
    snakemake(project, "--configfile", "tiny.yaml")
    return project, config


def test_tiny_grid_builds_every_table_and_figure(tiny):
    project, config = tiny
    for i in range(1, 12):
        table = pd.read_csv(project / f"results/tables/table{i}.csv")
        expected = ["8", "8 → 8", "16 → 8"] if i == 11 else ["8", "16"]
        assert table["batch"].astype(str).tolist() == expected
        assert (table["status"] == "ok").all()
        assert (project / f"results/tables/table{i}.tex").exists() and (
            project / f"results/tables/table{i}.md"
        ).exists()
    for i in range(1, 7):
        assert (project / f"results/figures/fig{i}.pdf").read_bytes().startswith(b"%PDF")
    for appendix in ("A1", "A2", "A3"):
        assert len(pd.read_csv(project / f"results/tables/table{appendix}.csv")) == 2  # 40 x 4 and 40 x 40
        assert (project / f"results/figures/fig{appendix}.pdf").read_bytes().startswith(b"%PDF")
    resnet = pd.read_csv(project / "results/analysis/resnet56/rankloss.csv")
    assert resnet["layer"].nunique() == 55 and set(resnet["dataset"]) == {"cifar10", "cifar100"}


def test_comparison_lists_every_number_of_the_paper(tiny):
    project, _ = tiny
    numbers = pd.read_csv(project / "results/report/paper/paper_comparison.csv")
    assert len(numbers) == len(paper.reference_tables()) * 4  # four metrics per row of the paper's tables
    assert set(numbers["artifact"]) == {f"table{i}" for i in range(1, 12)}
    # the tiny grid ran batch 8 and 16, none of the paper's: those rows say so instead of a number
    assert (numbers["status"] == "not run").all()
    text = (project / "results/report/paper/paper_comparison.md").read_text()
    assert "`reported_loss: {train: objective, test: objective}`" in text  # the default, and the comparison says so
    trends = markdown_table(text, "Artifact")
    claims = trends["Claim"].value_counts()
    # six figures, two datasets each, on the paper's probe batch and on the fixed probe
    assert claims["near-rank loss (count) grows with batch size"] == 6 * 2 * 2
    for claim in ("test error", "train loss (objective)", "train loss (cross-entropy)"):  # ten tables, both losses
        assert claims[f"{claim} grows with batch size"] == 10
    # Table 11: one claim of no effect per starting batch size, judged by the share of the gap closed
    assert (
        claims["switching to 8 closes the gap of batch 8"] == claims["switching to 8 closes the gap of batch 16"] == 1
    )
    switch = trends["Artifact"] == "table11"
    assert trends.loc[switch, "Verdict"].str.contains("n/a").all()  # one seed: a share, no interval
    # two batch sizes are too few for any rho to count; the paper's own numbers are checked beside
    # ours for every table, and the paper gives none for figures
    assert (trends.loc[~switch, "Verdict"] == "n/a").all() and (trends.loc[~switch, "n"] == "2").all()
    tables = trends[trends["Artifact"].str.startswith("table") & ~switch]
    reference = paper.reference_tables()
    for _, row in tables.iterrows():
        paper_rows = reference[reference["table"] == int(row["Artifact"][len("table") :])]
        paper_rows = paper_rows[paper_rows["switch_to"].isna()]
        column = "train_loss" if row["Claim"].startswith("train loss") else "test_error_pct"
        verdict, rho = re.fullmatch(r"(.+) \(ρ ([+-][\d.]+), p [\d.e-]+\)", row["Paper"]).groups()
        assert float(rho) == pytest.approx(
            significance.spearman(paper_rows["batch_size"], paper_rows[column]), abs=5e-4
        )
        assert verdict in {"agrees by ρ alone", "no clear trend", "opposite by ρ alone"}  # one set of numbers
    assert (trends.loc[trends["Artifact"].str.startswith("fig"), "Paper"] == "n/a: no numbers").all()


def markdown_table(text: str, first_header: str) -> pd.DataFrame:
    """The markdown table of ``text`` whose first column is ``first_header``, as strings."""
    for block in text.split("\n\n"):
        lines = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in block.splitlines()]
        if lines and lines[0][0] == first_header:
            return pd.DataFrame(lines[2:], columns=lines[0])
    raise AssertionError(f"no table starting with {first_header!r}")


def test_tables_show_the_reported_loss_and_keep_both(tiny):
    project, _ = tiny
    for i in (1, 11):
        table = pd.read_csv(project / f"results/tables/table{i}.csv")
        # the default: the objective for both splits
        assert table["train_loss"].tolist() == table["train_objective"].tolist()
        assert table["test_loss"].tolist() == table["test_objective"].tolist()
        assert (table["train_objective"] > table["train_cross_entropy"]).all()  # weight decay > 0, a penalty
        markdown = (project / f"results/tables/table{i}.md").read_text()
        assert "Loss: cross-entropy plus the weight-decay penalty" in markdown and "train and test." in markdown


def test_reported_loss_change_reruns_tables_and_comparison_only(tiny):
    project, config = tiny
    (project / "loss.yaml").write_text(yaml.safe_dump(dict(config, reported_loss={"train": "cross_entropy"})))
    assert planned_jobs(project, "--configfile", "loss.yaml") == {
        "table": 11,
        "table_comparison": 11,
        "comparison": 1,
        "all": 1,
    }


def test_threshold_change_reruns_analysis_and_figures_only(tiny):
    project, config = tiny
    config = dict(config, analysis={"thresholds": [1.0e-4, 1.0e-5, 1.0e-6]})
    (project / "thresholds.yaml").write_text(yaml.safe_dump(config))
    assert planned_jobs(project, "--configfile", "thresholds.yaml") == {
        "rankloss": 5,
        "figure": 12,
        "table_comparison": 10,  # every table but 11, whose experiment has no figure
        "comparison": 1,
        "all": 1,
    }


def test_epoch_change_reruns_that_experiments_trainings_only(tiny):
    project, config = tiny
    config = yaml.safe_load(yaml.safe_dump(config))
    config["experiments"]["lenet5_nobn"]["epochs"] = 3
    (project / "epochs.yaml").write_text(yaml.safe_dump(config))
    jobs = planned_jobs(project, "--configfile", "epochs.yaml")
    assert jobs == {
        "train": 4,
        "probe": 4 * 3 * 2,  # each run's three probes, untrained and trained
        "spectra": 4 * 3 * 2,
        "rankloss": 1,
        "table": 2,
        "figure": 2,
        "table_comparison": 2,
        "comparison": 1,
        "all": 1,
    }


def test_report_groups_every_artifact_by_model(tiny, tmp_path):
    project, _ = tiny
    snakemake(project, "--configfile", "tiny.yaml", "--report", str(tmp_path / "report.html"))
    html = (tmp_path / "report.html").read_text()
    for label in ("VGG-16", "ResNet-56", "LeNet-5 without batch norm", "LeNet-5 (linear)", "Paper comparison"):
        assert label in html
    for name in [f"table{i}" for i in range(1, 12)] + [f"fig{i}" for i in range(1, 7)] + ["tableA1", "figA3"]:
        assert name in html


SEEDS = """
name: seeds
seeds: [0, 1]
probe: {fixed_size: 64}  # digits has 360 test images
threads: {train: 1, analysis: 1}
experiments:
  seeded: {model: lenet5, datasets: [digits], batch_sizes: [16, 256], epochs: 1, weight_decay: 5.0e-4}
tables:
  seeded: {experiment: seeded, dataset: digits}
figures:
  seeded: {experiment: seeded, threshold: 1.0e-4}
"""


@pytest.mark.slow
def test_several_seeds_give_mean_and_std(tmp_path):
    project = copy_project(tmp_path)
    (project / "seeds.yaml").write_text(SEEDS)
    snakemake(project, "--configfile", "seeds.yaml")
    table = pd.read_csv(project / "results/tables/seeded.csv")
    assert (table["seeds"] == 2).all() and table["test_loss_std"].notna().all()
    summaries = [
        pd.read_json(project / f"results/runs/seeded/digits/bs16-seed{s}/summary.json", typ="series") for s in (0, 1)
    ]
    # the table shows the default reported_loss (the objective for both splits), both kinds beside
    for shown, recorded in (
        ("train_loss", "train_objective"),
        ("test_loss", "test_objective"),
        ("train_cross_entropy", "train_cross_entropy"),
        ("test_cross_entropy", "test_cross_entropy"),
    ):
        assert table.loc[0, shown] == pytest.approx((summaries[0][recorded] + summaries[1][recorded]) / 2)
    assert "±" in (project / "results/tables/seeded.md").read_text()
    # the comparison's trends: rho of the seed means beside the range of the seeds' own rhos
    trends = markdown_table((project / "results/report/seeds/paper_comparison.md").read_text(), "Artifact")
    # the figure (its count and with the deficit on its batch; on the fixed probe its count, relative
    # to σmax, its effective rank), the table's test error and train loss, both kinds
    assert trends["Artifact"].tolist() == ["seeded"] * 8
    # two batch sizes: each seed's rho is +1 or -1 (the train loss, continuous, has no ties)
    train_loss = trends[trends["Claim"].str.startswith("train loss (")]
    assert len(train_loss) == 2 and train_loss["Seed range"].str.fullmatch(r"[+-]1\.000 to [+-]1\.000").all()
    assert (project / "results/figures/seeded.png").exists()


@pytest.mark.parametrize("model, size", list(registry.ACTIVATIONS))
def test_cluster_memory_estimates_know_the_models_activation_sizes(model, size):
    """registry.ACTIVATIONS sizes cluster jobs without importing torch; it must match the models."""
    from rankgap import probe

    channels = 1 if size == 28 else 3
    dataset = "mnist" if size == 28 else "cifar10"
    run = run_settings(model=model, dataset=dataset)
    weights = {"settings": run.as_dict(), "state": models.from_settings(run).state_dict()}
    images = torch.zeros(2, channels, size, size, dtype=torch.uint8)
    outputs = probe.activations(weights, images, data.NORMALIZATION[dataset])
    per_image = [x[0].numel() for x in outputs.values()]
    assert registry.ACTIVATIONS[(model, size)] == (sum(per_image), max(per_image))


def test_cluster_resources_grow_on_retry():
    config = configuration.read(REPO / "config.yaml")  # as the Snakefile sees it
    first = resources.job_resources(config, "vgg16", "cifar10", 2048, attempt=1)
    second = resources.job_resources(config, "vgg16", "cifar10", 2048, attempt=2)
    for rule in ("train", "probe", "spectra"):
        assert second[rule]["mem_mb"] == 2 * first[rule]["mem_mb"]
        assert second[rule]["runtime"] == 2 * first[rule]["runtime"]
    # VGG-16 at batch 2048: 4.5 GB of float64 activations must be asked for
    assert first["probe"]["mem_mb"] > 2.5 * 276_480 * 2048 * 8 / 1e6
