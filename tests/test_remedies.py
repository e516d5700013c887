"""Remedies for the large-batch gap as training options, and the comparison of remedies with the
rival explanations, end to end on digits (config/remedies_smoke.yaml)."""

import dataclasses
import json
import math

import pandas as pd
import pytest
import scipy.stats
import torch
import torch.nn.functional as F
import yaml
from test_config import dry_run

from conftest import REPO, copy_project, planned_jobs, run_settings, snakemake
from rankgap import configuration, data, models, probe, rankloss, remedies, remedy_report, settings, train

NOISE = run_settings(activation_noise=0.5)
PLAIN = run_settings()


def twin_models(ghost_batch_size):
    """LeNet-5 with batch norm, and the same with ghost batch norm, identically initialised."""
    torch.manual_seed(0)
    plain = models.build("lenet5", "bn", 1, 28, 10)
    torch.manual_seed(0)
    ghost = models.with_remedies(models.build("lenet5", "bn", 1, 28, 10), ghost_batch_size, 0.0)
    return plain, ghost


@pytest.mark.parametrize("ghost_batch_size", [32, 1000])
def test_ghost_batch_norm_with_one_virtual_batch_is_batch_norm(ghost_batch_size):
    plain, ghost = twin_models(ghost_batch_size)
    assert sum(isinstance(m, (models.GhostBatchNorm1d, models.GhostBatchNorm2d)) for m in ghost.modules()) == 4
    x, labels = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    outputs = [model(x) for model in (plain, ghost)]
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)
    for output in outputs:
        F.cross_entropy(output, labels).backward()
    for (name, p), q in zip(plain.named_parameters(), ghost.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=0, msg=name)
    for (name, a), b in zip(plain.state_dict().items(), ghost.state_dict().values()):  # running statistics too
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_ghost_batch_norm_normalises_each_virtual_batch_and_evaluates_with_running_statistics():
    ghost, plain = models.GhostBatchNorm2d(3, virtual_batch_size=4), torch.nn.BatchNorm2d(3)
    x = torch.randn(10, 3, 5, 5) * 3 + 1
    expected = torch.cat([plain(chunk) for chunk in x.split(4)])  # virtual batches of 4, 4 and 2
    torch.testing.assert_close(ghost(x), expected)
    torch.testing.assert_close(ghost.running_mean, plain.running_mean)  # updated once per virtual batch
    ghost.eval(), plain.eval()
    torch.testing.assert_close(ghost(x), plain(x))


def test_noise_is_drawn_only_in_training_with_the_loops_generator():
    torch.manual_seed(0)
    plain = models.from_settings(PLAIN)
    noisy = models.from_settings(NOISE)
    noisy.load_state_dict(plain.state_dict())  # the remedy adds no parameter or buffer
    assert len(models.noisy_activations(noisy)) == 4 and models.select_layers(noisy) == [
        (name, module) for name, module in noisy.named_modules() if name.startswith("act")
    ]
    x = torch.randn(16, 1, 28, 28)
    for activation in models.noisy_activations(noisy):
        activation.generator = torch.Generator().manual_seed(0)  # as the training loop hands it over
    for model in (plain, noisy):
        model.eval()
    torch.testing.assert_close(noisy(x), plain(x), rtol=0, atol=0)  # evaluation: off
    for model in (plain, noisy):
        model.train()
    assert not torch.allclose(noisy(x), plain(x))  # training: on
    for activation in models.noisy_activations(noisy):
        activation.generator = None
    torch.testing.assert_close(noisy(x), plain(x), rtol=0, atol=0)  # training mode without the generator: off


def test_noise_is_off_in_the_probe_in_either_mode():
    torch.manual_seed(0)
    state = models.from_settings(NOISE).state_dict()
    batch = torch.randint(0, 256, (16, 1, 28, 28), dtype=torch.uint8)
    for mode in ("eval", "train"):
        digits = data.NORMALIZATION["digits"]
        noisy = probe.activations({"settings": NOISE.as_dict(), "state": state}, batch, digits, mode)
        plain = probe.activations({"settings": PLAIN.as_dict(), "state": state}, batch, digits, mode)
        assert noisy.keys() == plain.keys() == {"act1", "act2", "act3", "act4"}
        for name in noisy:
            torch.testing.assert_close(noisy[name], plain[name], rtol=0, atol=0)


def test_noise_scale_is_relative_to_the_layers_activation_std():
    activation = models.NoisyIdentityActivation(0.5)
    activation.generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 1000) * 7
    noise = activation(x) - x
    assert noise.mean().item() == pytest.approx(0, abs=0.05)
    assert noise.std().item() == pytest.approx(0.5 * x.std().item(), rel=0.01)


SCHEDULE = run_settings(lr_start=0.1, lr_end=1e-4, epochs=60, schedule="exponential", batch_size=8192)


@pytest.mark.parametrize("scaling, factor", [("linear", 64), ("sqrt", 8)])
def test_lr_scaling_with_warmup_follows_the_documented_schedule(scaling, factor):
    """k = 8192/128 (linear) or its root (sqrt), rising from 1 at epoch 0 to k at epoch 5, on top of the schedule."""
    scaled = dataclasses.replace(SCHEDULE, lr_scaling=scaling, warmup_epochs=5, base_batch_size=128)
    for epoch in range(60):
        expected = 1 + (factor - 1) * epoch / 5 if epoch < 5 else factor
        assert train.learning_rate(scaled, epoch) == pytest.approx(expected * train.learning_rate(SCHEDULE, epoch))
    assert train.learning_rate(scaled, 0) == pytest.approx(0.1) and train.learning_rate(scaled, 59) == pytest.approx(
        factor * 1e-4
    )
    switched = dataclasses.replace(scaled, switch={"batch_size": 128, "epoch": 30})  # after the switch, 128's factor: 1
    assert train.learning_rate(switched, 30) == pytest.approx(train.learning_rate(SCHEDULE, 30))


def test_regime_adaptation_takes_the_base_batch_sizes_steps():
    adapted = run_settings(dataset="fashion_mnist", drop_last=False, regime_adaptation=True, base_batch_size=128)
    assert adapted.passes_per_epoch(8192) == 59  # ceil(469 / 8): 472 steps an epoch against 469
    assert adapted.passes_per_epoch(128) == adapted.passes_per_epoch(64) == 1
    assert dataclasses.replace(adapted, regime_adaptation=False).passes_per_epoch(8192) == 1


def test_an_adapted_epoch_makes_several_passes():
    """run_epoch: 100 images at batch 50 with base 10 makes five passes, ten steps."""
    run = run_settings(batch_size=50, epochs=1, regime_adaptation=True, base_batch_size=10)
    steps = []

    class CountingSGD(torch.optim.SGD):
        def step(self, closure=None):
            steps.append(1)
            return super().step(closure)

    model = models.from_settings(run)
    x, y = torch.randint(0, 256, (100, 1, 28, 28), dtype=torch.uint8), torch.randint(0, 10, (100,))
    _, _, seen = train.run_epoch(model, CountingSGD(model.parameters(), lr=0.01), x, y, run, 0)
    assert seen == 500 and len(steps) == 10


def validated(experiment: dict) -> dict:
    config = {
        "name": "validated",
        "experiments": {
            "e": {
                "model": "lenet5",
                "datasets": ["digits"],
                "batch_sizes": [16],
                "epochs": 4,
                "weight_decay": 0.0,
                **experiment,
            }
        },
    }
    configuration.fill(config)
    return config


def test_settings_stored_before_the_remedies_existed_read_as_remedies_off():
    run = settings.run_settings(validated({}), "e", "digits", 16, 0)
    stored = run.as_dict()
    assert run.ghost_batch_size is None and stored["lr_scaling"] == "none"  # every field stored, remedies off
    before = {key: value for key, value in stored.items() if key not in ("ghost_batch_size", "lr_scaling")}
    assert settings.RunSettings.from_dict(before) == run
    run = settings.run_settings(validated({"activation_noise": 0.1, "lr_scaling": "sqrt"}), "e", "digits", 16, 0)
    stored = run.as_dict()
    assert stored["activation_noise"] == 0.1 and stored["lr_scaling"] == "sqrt"
    assert settings.RunSettings.from_dict(stored) == run


BASE = {"model": "lenet5", "datasets": ["digits"], "batch_sizes": [16, 64], "epochs": 2, "weight_decay": 0.0}
CONFIG = {
    "name": "remedies",
    "experiments": {
        "base": {**BASE, "measure_rivals": True},
        "ghost": {**BASE, "measure_rivals": True, "ghost_batch_size": 8},
    },
    "rivals": {"images": 256},
    "probe": {"fixed_size": 256},  # digits has 360 test images
    "remedy_comparisons": {"c": {"dataset": "digits", "baseline": "base", "remedies": ["ghost"]}},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("remedy-config"))


def edited(experiment=None, **changes):
    config = yaml.safe_load(yaml.safe_dump(CONFIG))
    if experiment:
        config["experiments"]["ghost"].update(experiment)
    config.update(changes)
    return config


@pytest.mark.parametrize(
    "config, expected",
    [
        (edited({"ghost_batch_size": 0}), "experiments.ghost.ghost_batch_size: 0 must be at least 1"),
        (edited({"activation_noise": -0.1}), "experiments.ghost.activation_noise: -0.1 must be at least 0"),
        (edited(train={"activation_noise": -1}), "train.activation_noise: -1 must be at least 0"),
        (
            edited({"lr_scaling": "cubic"}),
            "experiments.ghost.lr_scaling: 'cubic' is not allowed; allowed values: none, linear, sqrt",
        ),
        (edited({"warmup_epochs": -1}), "experiments.ghost.warmup_epochs: -1 must be at least 0"),
        (
            edited({"warmup_epochs": 1}),
            "experiments.ghost: warmup_epochs 1 warms up to a scaled learning rate, but lr_scaling is 'none'",
        ),
        (
            edited({"warmup_epochs": 2, "lr_scaling": "linear"}),
            "experiments.ghost: warmup_epochs 2 is not shorter than the run's 2 epochs; use between 0 and 1",
        ),
        (
            edited({"variant": "nobn"}),
            "experiments.ghost: ghost_batch_size needs batch norm, and variant nobn has none",
        ),
        (edited({"base_batch_size": 0}), "experiments.ghost.base_batch_size: 0 must be at least 1"),
        (edited(rivals={"images": 5000}), "rivals.images 5000 is more than the 1437 training images of 'digits'"),
        (edited(rivals={"power_tolerance": 0}), "rivals.power_tolerance: 0 must be greater than 0"),
        (
            edited(probe={"fixed_size": 256, "fixed_splits": []}),
            "remedy_comparisons compare measures across batch sizes on the fixed probe, but probe.fixed_splits is",
        ),
        (
            edited({"batch_sizes": [16, 128]}),
            "remedy_comparisons.c: experiment ghost has batch sizes [16, 128], the baseline base [16, 64]",
        ),
        (edited({"measure_rivals": False}), "remedy_comparisons.c: experiment ghost does not measure the rivals"),
    ],
)
def test_a_bad_remedy_value_stops_the_config_check(project, config, expected):
    result = dry_run(project, config)
    message = result.stdout + result.stderr
    assert result.returncode != 0 and expected in message, message
    assert "Building DAG" not in message


def test_the_rivals_run_only_where_asked(project):
    jobs = planned_jobs(project, "--configfile", "config/smoke.yaml")
    assert "sharpness" not in jobs and "weight_spectra" not in jobs and "remedy_comparison" not in jobs
    path = project / "test-config.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    jobs = planned_jobs(project, "--configfile", str(path))
    assert jobs["sharpness"] == jobs["weight_spectra"] == 4 and jobs["remedy_comparison"] == 1


def per_run(test_errors: dict[tuple[str, int], list[float]]) -> pd.DataFrame:
    """run_measures' frame for these test errors per (experiment, batch size), one per seed."""
    measures = {"count": 0, **dict.fromkeys(rankloss.COMPONENTS, 0), "lambda_max": 1.0, "trace": 1.0}
    return pd.DataFrame(
        [
            {"experiment": experiment, "dataset": "d", "batch_size": batch, "seed": seed, "status": "ok"}
            | {"train_error": 0.0, "test_error": error, **measures, "weight_alpha": 3.0, "weight_stable_rank": 9.0}
            for (experiment, batch), errors in test_errors.items()
            for seed, error in enumerate(errors)
        ]
    )


def test_a_remedy_counts_only_beyond_the_run_to_run_spread():
    """Three seeds: standard deviations 0.2 at the small batch and 0.4 at the large one in every
    condition, so the pooled spread is theirs, with 4 x 2 degrees of freedom (Student's t 2.306)."""
    baseline = {128: [9.0, 9.2, 9.4], 8192: [10.0, 10.4, 10.8]}

    def shifted(small, large):
        return {128: [e + small for e in baseline[128]], 8192: [e + large for e in baseline[8192]]}

    conditions = {"baseline": baseline, "noise": shifted(0.1, -0.2), "both": shifted(-1.0, -1.0)}
    conditions["narrows"] = shifted(0.0, -2.0)
    frame = per_run({(e, b): errors for e, by_batch in conditions.items() for b, errors in by_batch.items()})
    table = remedies.conditions(frame, "baseline")
    spread = remedies.spreads(table)
    assert spread["sd"].tolist() == pytest.approx([0.2, 0.4]) and spread["dof"].tolist() == [8, 8]
    assert spread["t"].tolist() == pytest.approx([2.306, 2.306], abs=1e-3)  # two-sided 5%, 8 degrees of freedom
    assert table["gap_se"].tolist() == pytest.approx([math.sqrt((0.2**2 + 0.4**2) / 3)] * 8)

    effects = remedies.effects(table).set_index("remedy")
    assert effects.at["noise", "verdict"] == "no change shown: both batch sizes within the run-to-run spread"
    assert effects.at["both", "verdict"] == (  # not significant is not "no effect": the words say what moved
        "helps the small batch and helps the large batch beyond the spread; "
        "no change of the gap shown after Holm's correction"
    )
    assert effects.at["narrows", "verdict"] == "helps the large batch more: the gap narrows"
    # the gap change's t-test, corrected with Holm's over the three remedies
    t = -2.0 / math.sqrt((0.2**2 + 0.4**2) * 2 / 3)
    assert effects.at["narrows", "gap_p"] == pytest.approx(2 * scipy.stats.t.sf(abs(t), 8))
    assert effects.at["narrows", "gap_p_holm"] == pytest.approx(3 * effects.at["narrows", "gap_p"])
    assert effects.at["narrows", "gap_change"] == pytest.approx(-2.0)
    assert effects.at["narrows", "change_large_se"] == pytest.approx(0.4 * math.sqrt(2 / 3))
    assert effects.at["narrows", "gap_change_se"] == pytest.approx(math.sqrt((0.2**2 + 0.4**2) * 2 / 3))
    template = REPO / "workflow/templates/remedy_comparison.md.j2"
    report = remedy_report.comparison_text(
        template, table, remedies.gap_correlations(table), effects.reset_index(), "Caption", "d"
    )
    assert "the mean of 3 seeds per condition" in report and "0.20 points at 128 (8 degrees of freedom" in report
    assert "-2.00 ± 0.37" in report  # the gap change and its standard error


def test_a_measure_tracks_the_gap_by_its_exact_p_value():
    """Six conditions whose stable rank's change follows the gap but for two swaps of neighbours:
    rho 0.886, exact two-sided p 2 x 12/720 = 0.033 (the published remedies comparison called such a
    rho significant against a critical value equal to it but for rounding)."""
    names = ["baseline", "r1", "r2", "r3", "r4", "r5"]
    gaps = dict(zip(names, [0.2, 0.5, 0.8, 1.1, 1.4, 1.7]))
    stable_rank_change = dict(zip(names, [2, 1, 3, 5, 4, 6]))  # squared rank differences: 4
    frame = per_run(
        {(name, batch): [9.0 + (gaps[name] if batch == 8192 else 0)] for name in names for batch in (128, 8192)}
    )
    frame["weight_stable_rank"] = [
        stable_rank_change[e] if batch == 8192 else 0.0 for e, batch in zip(frame["experiment"], frame["batch_size"])
    ]
    # two more measures tested beside it, unrelated to the gap: a family of three
    for column, changes in (("trace", [3, 6, 1, 4, 2, 5]), ("weight_alpha", [4, 1, 5, 2, 6, 3])):
        change = dict(zip(names, changes))
        frame[column] = [change[e] if b == 8192 else 0.0 for e, b in zip(frame["experiment"], frame["batch_size"])]
    table = remedies.conditions(frame, "baseline")
    measures = remedies.gap_correlations(table)
    stable = measures.set_index("measure").loc["weight_stable_rank"]
    assert stable["rho_gap"] == pytest.approx(1 - 6 * 4 / 210)
    assert stable["p_value"] == pytest.approx(2 * 12 / 720)
    # one of three measures tested (the constant ones have no p): alone it would count, after Holm's
    # correction over the three it does not (the smallest p times 3)
    assert measures["p_value"].notna().sum() == 3 and stable["p_value"] == measures["p_value"].min()
    assert stable["p_holm"] == pytest.approx(3 * 2 * 12 / 720) and not stable["significant"]
    best = remedy_report.summary_row(table, measures, remedies.effects(table))["tracks the gap best"]
    assert best == "weight stable rank (mean) (ρ +0.89, p 0.0333, 0.1 after Holm over 3: not significant)"


def test_counts_are_shown_as_precisely_as_their_parts():
    """A count averaged over seeds (0, 1, 3 in three runs: 4/3) beside its parts (2/3, 2/3, 0): the
    table shows them to two decimals, so that the parts add up to the count."""
    frame = per_run({("baseline", 16): [9.0] * 3, ("baseline", 256): [11.0] * 3})
    frame.loc[frame["batch_size"] == 256, ["count", "dead_zeros", "other_zeros"]] = [[0, 0, 0], [1, 1, 0], [3, 1, 2]]
    shown = remedy_report.formatted_table(remedies.conditions(frame, "baseline"))
    assert shown["Count"].tolist() == ["0.00", "1.33"]
    assert shown["dead zeros / other zeros / genuine"].tolist()[1] == "0.67 / 0.67 / 0.00"


def test_one_seed_leaves_the_spread_unknown():
    frame = per_run({("baseline", 16): [9.0], ("baseline", 256): [11.0], ("r", 16): [9.5], ("r", 256): [10.0]})
    table = remedies.conditions(frame, "baseline")
    assert remedies.spreads(table)["sd"].isna().all() and table["gap_se"].isna().all()
    effects = remedies.effects(table)
    assert effects.at[0, "verdict"] == "helps the large batch more: the gap narrows (one seed: the spread is unknown)"
    assert "±" not in "".join(remedy_report.formatted_table(table)["Test error (± sd)"])


@pytest.fixture(scope="module")
def remedies_smoke(tmp_path_factory):
    """config/remedies_smoke.yaml run end to end once, in a private copy of the project."""
    workdir = copy_project(tmp_path_factory.mktemp("remedies-smoke"))
    snakemake(workdir, "--configfile", "config/remedies_smoke.yaml")
    return workdir


def test_the_remedy_table_has_a_row_per_remedy_and_batch_size(remedies_smoke):
    table = pd.read_csv(remedies_smoke / "results/remedies/smoke.csv")
    assert table[["remedy", "batch_size"]].values.tolist() == [
        ["baseline", 16],
        ["baseline", 256],
        ["remedies", 16],
        ["remedies", 256],
    ]
    assert (table["status"] == "ok").all()
    for _, rows in table.groupby("remedy"):
        assert (rows["gap"] == rows["test_error"].iloc[1] - rows["test_error"].iloc[0]).all()
    assert (table["count"] == table[["dead_zeros", "other_zeros", "genuine"]].sum(axis=1)).all()
    for column in ("lambda_max", "trace", "weight_alpha", "weight_stable_rank"):
        assert table[column].notna().all() and (table[column] > 0).all()
    markdown = (remedies_smoke / "results/remedies/smoke.md").read_text()
    assert markdown.count("|\n") == len(table) + 2
    assert (remedies_smoke / "results/remedies/smoke.pdf").read_bytes().startswith(b"%PDF")
    assert (remedies_smoke / "results/remedies/smoke.png").read_bytes().startswith(b"\x89PNG")


def test_the_comparison_names_the_measure_that_tracks_the_gap(remedies_smoke):
    measures = pd.read_csv(remedies_smoke / "results/remedies/smoke_comparison.csv")
    assert set(measures["measure"]) == set(remedies.EXPLANATORY)  # the fixed probe's measures among them
    assert (measures["remedies"] == 2).all() and (measures["conditions"] == 4).all()
    assert measures["significant"].isna().all()  # two remedies: no rho could be significant
    effects = pd.read_csv(remedies_smoke / "results/remedies/smoke_effects.csv")
    assert effects["remedy"].tolist() == ["remedies"]
    assert effects.at[0, "gap_change"] == pytest.approx(effects.at[0, "change_large"] - effects.at[0, "change_small"])
    text = (remedies_smoke / "results/remedies/smoke_comparison.md").read_text()
    assert "tracked best by" in text and "one seed per condition" in text and effects.at[0, "verdict"] in text


def test_each_run_has_its_rival_measures(remedies_smoke):
    for remedy in ("baseline", "remedies"):
        for bs in (16, 256):
            run = remedies_smoke / f"results/runs/{remedy}/digits/bs{bs}-seed0"
            result = json.loads((run / "sharpness.json").read_text())
            assert result["status"] == "ok" and result["images"] == 128 and result["trace_samples"] == 5
            assert 1 <= result["power_iterations"] <= 10 and math.isfinite(result["lambda_max"])
            layers = pd.read_csv(run / "weight_spectra.csv")
            assert layers["layer"].tolist() == ["conv1", "conv2", "fc3", "fc4", "fc5"]
            assert (run / "sharpness.benchmark.tsv").exists() and (run / "weight_spectra.benchmark.tsv").exists()


def test_the_remedies_run_as_documented(remedies_smoke):
    """Base batch 16: at 256 the sqrt factor is 4, reached after one warm-up epoch; 15 passes an epoch."""
    run = remedies_smoke / "results/runs/remedies/digits/bs256-seed0"
    metrics = pd.read_csv(run / "metrics.csv")
    assert metrics["lr"].tolist() == pytest.approx([0.1, 4 * 1e-4])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["ghost_batch_size"] == 8 and summary["activation_noise"] == 0.1
    assert settings.RunSettings.from_dict(summary).passes_per_epoch(256) == 15  # ceil(90 steps at 16 / 6 at 256)
    small = pd.read_csv(remedies_smoke / "results/runs/remedies/digits/bs16-seed0/metrics.csv")
    assert small["lr"].tolist() == pytest.approx([0.1, 1e-4])  # the base batch: factor 1


def test_lint_has_no_remarks_with_the_remedy_rules(remedies_smoke):
    result = snakemake(remedies_smoke, "--lint", "--configfile", "config/remedies_smoke.yaml")
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_publish_writes_the_comparisons_data_and_its_readme(remedies_smoke):
    """`snakemake publish_parts` copies a remedy comparison as the pipeline wrote it, with its config
    and provenance; `snakemake publish` renders its README, and the folder's, from its runs' numbers."""
    config = yaml.safe_load((remedies_smoke / "config/remedies_smoke.yaml").read_text())
    config["publish"] = {"folder": "published", "title": "Remedies, published"}
    (remedies_smoke / "publish.yaml").write_text(yaml.safe_dump(config))
    snakemake(remedies_smoke, "publish_parts", "--configfile", "publish.yaml")
    snakemake(remedies_smoke, "publish", "--configfile", "publish.yaml")
    folder = remedies_smoke / "published"
    index = (folder / "README.md").read_text()
    assert index.startswith("# Remedies, published\n") and "[smoke](smoke/README.md)" in index
    assert "Losses shown" not in index  # no table of the paper here

    data, results = folder / "smoke/data", remedies_smoke / "results/remedies"
    for name in (
        "smoke.csv",
        "smoke.md",
        "smoke_runs.csv",
        "smoke_comparison.md",
        "smoke_effects.csv",
        "smoke_summary.csv",
    ):
        assert (data / name).read_bytes() == (results / name).read_bytes()
    assert (data / "figures/smoke.png").read_bytes() == (results / "smoke.png").read_bytes()
    effects = pd.read_csv(results / "smoke_effects.csv")
    readme = (folder / "smoke/README.md").read_text()
    assert readme.startswith("# Remedies for the large-batch gap: smoke\n") and effects.at[0, "verdict"] in readme
    assert "snakemake published/smoke/data --cores 2 --configfile publish.yaml" in readme
    assert "data/figures/smoke.png" in readme and "were measured" not in readme  # every measure is in these runs
    runs = pd.read_csv(data / "smoke_runs.csv")
    assert len(runs) == 4 and set(runs["experiment"]) == {"baseline", "remedies"}
    assert runs[["relative_count", "effective_rank_fraction"]].notna().all().all()
    provenance = json.loads((data / "provenance.json").read_text())
    stages = {s["stage"]: s["jobs"] for s in provenance["stages"]}
    probes = 4 * 2 * 2  # runs x probe epochs x fixed probes (no figure: no paper's probe batch)
    assert stages == {"train": 4, "sharpness": 4, "weight_spectra": 4, "probe": probes, "spectra": probes}
    assert set(pd.read_csv(data / "measures.csv")["probe"]) == {"train", "test"}
    weights = pd.read_csv(data / "weights.csv")
    assert len(pd.read_csv(data / "runs.csv")) == len(weights) == 4 and weights["initial"].notna().all()
    files = {*weights["final"], *weights["initial"]}  # an initial file is shared by the runs it is the start of
    assert {f"weights/{p.name}" for p in (data / "weights").glob("*.safetensors")} == files
    summary = pd.read_csv(data / "smoke_summary.csv").iloc[0]
    assert summary["seeds"] == 1 and summary["tracks the gap best"] in index  # the comparison's row in the index
    assert planned_jobs(remedies_smoke, "publish", "--configfile", "publish.yaml") == {}


def test_rerun_after_success_does_nothing(remedies_smoke):
    assert planned_jobs(remedies_smoke, "--configfile", "config/remedies_smoke.yaml") == {}
