"""The whole chain, end to end, on the smoke config: check what it produced, not only that it exists."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors import safe_open

from conftest import copy_project, jobs_after_editing, planned_jobs, snakemake
from rankgap import cli, part_data
from rankgap.probe import capture, probe_batch
from rankgap.settings import RunSettings, default_settings

RUNS = "results/runs/smoke/digits"
BATCH_SIZES = [8, 512]
EPOCHS = 2
SETTINGS = {"model": "lenet5", "variant": "linear", "dataset": "digits", "batch_size": 8, "seed": 0, "epochs": 2}
LAYERS = {"act1": (6, 28, 28), "act2": (16, 10, 10), "act3": (120,), "act4": (84,)}
FIXED = 64  # config/smoke.yaml's probe.fixed_size
PROBES = {"batch": None, "train": FIXED, "test": FIXED}  # images per probe (None: the run's batch size)


def test_table_has_one_row_per_batch_size(smoke):
    table = pd.read_csv(smoke / "results/tables/smoke_table.csv")
    assert table["batch"].astype(int).tolist() == BATCH_SIZES
    assert (table["status"] == "ok").all() and (table["seeds"] == 1).all()
    for column in ("train_error", "test_error"):
        assert table[column].between(0, 100).all()
    for column in ("train_loss", "test_loss"):
        assert (table[column] > 0).all() and np.isfinite(table[column]).all()
    markdown = (smoke / "results/tables/smoke_table.md").read_text()
    assert markdown.count("|\n") == len(BATCH_SIZES) + 2  # header, rule, one line per batch size
    assert r"\begin{tabular}" in (smoke / "results/tables/smoke_table.tex").read_text()


@pytest.mark.parametrize("bs", BATCH_SIZES)
def test_training_metrics_and_summary(smoke, bs):
    run = smoke / f"{RUNS}/bs{bs}-seed0"
    metrics = pd.read_csv(run / "metrics.csv")
    assert metrics["epoch"].tolist() == list(range(1, EPOCHS + 1))
    assert metrics["lr"].iloc[0] == pytest.approx(0.1) and metrics["lr"].iloc[-1] == pytest.approx(1e-4)
    assert (metrics["batch_size"] == bs).all()
    assert (metrics["images_per_second"] > 0).all()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["epochs_completed"] == EPOCHS
    assert summary["batch_size"] == bs and summary["variant"] == "linear"
    assert summary["versions"]["torch"] == torch.__version__
    assert summary["wall_seconds"] > 0
    assert not (run / "checkpoint.pt").exists()  # removed once the run finished
    epoch_lines = [line for line in (run / "train.log").read_text().splitlines() if " epoch " in line]
    assert len(epoch_lines) == EPOCHS
    for line in epoch_lines:  # epoch, lr, batch size, train cross-entropy and error, test ones, images/s
        assert all(word in line for word in ("lr", "bs", "train cross-entropy", "err", "test cross-entropy", "img/s"))


@pytest.mark.parametrize("bs", BATCH_SIZES)
@pytest.mark.parametrize("probe", PROBES)
def test_dump_holds_every_layer_batch_first_in_float64(smoke, bs, probe):
    """The paper's probe batch holds the run's batch size of images; a fixed probe the same number
    for every run."""
    images = PROBES[probe] or bs
    with safe_open(str(smoke / f"{RUNS}/bs{bs}-seed0/epoch{EPOCHS}/{probe}/activations.safetensors"), "pt") as f:
        assert json.loads(f.metadata()["layers"]) == list(LAYERS)
        assert f.metadata()["probe"] == probe and f.metadata()["images"] == str(images)
        for name, shape in LAYERS.items():
            x = f.get_tensor(name)
            assert x.shape == (images, *shape) and x.dtype == torch.float64


def test_a_fixed_probe_is_the_same_images_for_every_run():
    """The fixed probes draw the same images whatever the run's batch size; the paper's probe batch
    is a run's first bs of the same permutation of the training set, so it holds the fixed train
    probe once it is at least as large."""
    splits = {"x_train": torch.arange(1000), "x_test": torch.arange(1000, 1300)}
    train = probe_batch(splits, "train", 64, seed=0)
    assert torch.equal(train, probe_batch(splits, "train", 64, seed=0))
    assert torch.equal(probe_batch(splits, "batch", 512, seed=0)[:64], train)
    test = probe_batch(splits, "test", 64, seed=0)
    assert (test >= 1000).all() and len(set(test.tolist())) == 64  # test images only, each once
    assert not torch.equal(probe_batch(splits, "train", 64, seed=1), train)


@pytest.mark.parametrize("bs", BATCH_SIZES)
def test_spectra_match_numpy(smoke, bs):
    probe = smoke / f"{RUNS}/bs{bs}-seed0/epoch{EPOCHS}/batch"
    spectra = pd.read_csv(probe / "spectra.csv")
    modes = pd.read_csv(probe / "modes.csv")
    with safe_open(str(probe / "activations.safetensors"), "np") as f:
        for name in LAYERS:
            x = f.get_tensor(name)
            for axis, mode in enumerate(["batch", "channel", "height", "width"][: x.ndim if x.ndim == 4 else 1]):  # noqa: B007 (the query reads it)
                unfolding = np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)
                expected = np.linalg.svd(unfolding, compute_uv=False)
                sigma = spectra.query("layer == @name and mode == @mode")["sigma"].to_numpy()
                np.testing.assert_allclose(sigma, expected, rtol=0, atol=1e-10 * expected[0])
                row = modes.query("layer == @name and mode == @mode").iloc[0]
                assert row["values"] == min(unfolding.shape)
                assert row["deficit"] == max(0, unfolding.shape[0] - unfolding.shape[1])


def test_rankloss_counts_are_the_spectra_recounted(smoke):
    rankloss = pd.read_csv(smoke / "results/analysis/smoke/rankloss.csv").query("epoch == @EPOCHS and probe == 'batch'")
    assert sorted(rankloss["threshold"].unique()) == [1e-5, 1e-4]
    assert (rankloss["status"] == "ok").all()
    assert (rankloss["dead_zeros"] + rankloss["other_zeros"] + rankloss["genuine"] == rankloss["count"]).all()
    for (bs, threshold), rows in rankloss.groupby(["batch_size", "threshold"]):
        spectra = pd.read_csv(smoke / f"{RUNS}/bs{bs}-seed0/epoch{EPOCHS}/batch/spectra.csv")
        assert rows["count"].sum() == (spectra["sigma"] <= threshold).sum()
        assert len(rows) == 4 + 4 + 1 + 1  # two conv layers with 4 modes, two dense layers
    # a batch of 512 outgrows the 120- and 84-unit dense layers: the deficit says so
    dense = rankloss.query("batch_size == 512 and layer in ['act3', 'act4'] and threshold == 1e-4")
    assert dense.set_index("layer")["deficit"].to_dict() == {"act3": 512 - 120, "act4": 512 - 84}


@pytest.mark.parametrize("figure", ["smoke_figure", "smoke_epochs", "smoke_components"])
def test_figure_files(smoke, figure):
    assert (smoke / f"results/figures/{figure}.pdf").read_bytes().startswith(b"%PDF")
    assert (smoke / f"results/figures/{figure}.png").read_bytes().startswith(b"\x89PNG")


def test_probes_at_initialisation_and_end(smoke):
    """probe.epochs [0, last]: a snapshot of the initial weights is probed beside the final ones."""
    rankloss = pd.read_csv(smoke / "results/analysis/smoke/rankloss.csv")
    assert sorted(rankloss["epoch"].unique()) == [0, EPOCHS]
    for bs in BATCH_SIZES:
        run = smoke / f"{RUNS}/bs{bs}-seed0"
        initial = torch.load(run / "snapshots/epoch0.pt", weights_only=False)["state"]
        final = torch.load(run / "weights.pt", weights_only=False)["state"]
        assert not torch.equal(initial["conv1.weight"], final["conv1.weight"])
        torch.manual_seed(0)  # the run's seed: the snapshot is the model before any step
        from rankgap import models

        fresh = models.from_settings(RunSettings.from_dict(json.loads((run / "summary.json").read_text()))).state_dict()
        assert torch.equal(initial["conv1.weight"], fresh["conv1.weight"])


def test_the_untrained_null_is_the_measure_of_the_initial_weights_on_the_fixed_probe(smoke):
    """measures.csv's epoch-0 rows on the fixed probe are the measures of the untrained network:
    recomputed here by hand (numpy's SVD of each unfolding, RankMe's formula) from the initial
    weights and the fixed probe's images, and the same for every batch size of a seed."""
    from rankgap import data, models

    measured = pd.read_csv(smoke / "results/analysis/smoke/measures.csv")
    untrained = measured.query("epoch == 0 and probe == 'train' and threshold == 1e-4")
    splits = data.load(smoke / "data/digits.safetensors")
    images = probe_batch(splits, "train", FIXED, seed=0)
    for bs in BATCH_SIZES:
        weights = torch.load(smoke / f"{RUNS}/bs{bs}-seed0/snapshots/epoch0.pt", weights_only=False)
        model = models.from_weights(weights).double().eval()
        x = data.normalize(images, data.normalization("digits", splits["x_train"]), dtype=torch.float64)
        outputs, _ = capture(model, x, models.select_layers(model, None))  # the layers' outputs; the rest by hand
        rows = untrained[untrained["batch_size"] == bs].set_index(["layer", "mode"])
        for name, out in outputs.items():
            out = out.numpy()
            for axis, mode in enumerate(["batch", "channel", "height", "width"][: out.ndim if out.ndim == 4 else 1]):
                sigma = np.linalg.svd(np.moveaxis(out, axis, 0).reshape(out.shape[axis], -1), compute_uv=False)
                p = sigma[sigma > 0] / sigma.sum()
                by_hand = np.exp(-(p * np.log(p)).sum())
                row = rows.loc[(name, mode)]
                assert row["effective_rank"] == pytest.approx(by_hand, rel=1e-9)
                assert row["effective_rank_fraction"] == pytest.approx(by_hand / len(sigma), rel=1e-9)
                assert row["values"] == len(sigma) and row["count"] == (sigma <= 1e-4).sum()
    same = untrained.pivot_table(index=["layer", "mode"], columns="batch_size", values="effective_rank")
    np.testing.assert_allclose(same[BATCH_SIZES[0]], same[BATCH_SIZES[1]], rtol=1e-12)  # one network per seed


def test_rerun_after_success_does_nothing(smoke):
    assert planned_jobs(smoke, "--configfile", "config/smoke.yaml") == {}


ANALYSIS = {"figure": 3, "table_comparison": 1, "comparison": 1, "all": 1}  # what any change upstream reruns
PROBE_JOBS = len(BATCH_SIZES) * 2 * len(PROBES)  # per run, two probe epochs, each probe
EVERYTHING = {"train": 2, "probe": PROBE_JOBS, "spectra": PROBE_JOBS, "rankloss": 1, "table": 1, **ANALYSIS}


@pytest.mark.parametrize(
    "module, rules",
    [
        ("figures", {"figure": 3, "all": 1}),
        ("tables", {"table": 1, "table_comparison": 1, "comparison": 1, "all": 1}),
        ("paper", {"table_comparison": 1, "comparison": 1, "all": 1}),
        ("svd", {"spectra": PROBE_JOBS, "rankloss": 1, **ANALYSIS}),
        ("rankloss", {"rankloss": 1, **ANALYSIS}),  # the counts: no SVD reruns
        ("measures", {"rankloss": 1, **ANALYSIS}),  # the table of measures: no SVD reruns
        ("verdicts", {"table_comparison": 1, "comparison": 1, "all": 1}),
        ("probe", {"probe": PROBE_JOBS, "spectra": PROBE_JOBS, "rankloss": 1, **ANALYSIS}),
        ("train", EVERYTHING),
        ("settings", EVERYTHING),  # a run's settings: every job that runs a model
        ("configuration", {}),  # the config's checks: no job's code reaches them
        ("registry", EVERYTHING),  # imported by models and data, not by any script: found by following the imports
    ],
)
def test_editing_a_module_reruns_exactly_its_rules(smoke, module, rules):
    assert jobs_after_editing(smoke, module, "--configfile", "config/smoke.yaml") == rules


def test_lint_has_no_remarks(smoke):
    result = snakemake(smoke, "--lint")
    out = result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition!" in out, out


def test_bad_dump_fails_its_job_with_file_and_layer_and_no_output(smoke):
    """Last in this file: it breaks one dump of the smoke run (and puts it back)."""
    probe = smoke / f"{RUNS}/bs8-seed0/epoch0/batch"
    dump = probe / "activations.safetensors"
    saved = {p: p.read_bytes() for p in (dump, probe / "spectra.csv", probe / "modes.csv")}
    try:
        with safe_open(str(dump), "pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
            metadata = f.metadata()
        tensors["act2"][3, 0, 0, 0] = float("nan")
        from safetensors.torch import save_file

        save_file(tensors, str(dump), metadata=metadata)
        result = snakemake(
            smoke,
            "--configfile",
            "config/smoke.yaml",
            "--forcerun",
            "spectra",
            "--retries",
            "0",
            str(probe.relative_to(smoke) / "spectra.csv"),
            check=False,
        )
        assert result.returncode != 0
        log = (probe / "spectra.log").read_text()
        assert f"{dump.relative_to(smoke)}: layer act2 holds NaN or Inf values" in log
        assert "spectra.log" in result.stdout + result.stderr  # Snakemake points at the log
        assert not (probe / "spectra.csv").exists() and not (probe / "modes.csv").exists()
    finally:
        for path, content in saved.items():
            path.write_bytes(content)


NOTES = """## Notes

Templated notes head the README: {{ parts.smoke_table.seeds }} seed, test error
{{ parts.smoke_table.ours("test_error", 512) | num }}% at 512.
"""


def test_publish_writes_a_parts_data_then_every_readme_from_the_data_alone(smoke, tmp_path):
    """`snakemake <folder>/<part>/data` copies one table's files as the pipeline wrote them (its
    comparison with the paper as rule table_comparison wrote it, not recomputed); `snakemake
    publish` renders every README from the published data alone, once every part is published,
    and trains nothing: a copy without results/ renders them again, byte for byte."""
    config = yaml.safe_load((smoke / "config/smoke.yaml").read_text())
    config["tables"]["smoke_again"] = dict(config["tables"]["smoke_table"], caption="The same runs again")
    config["publish"] = {"folder": "reproduction/smoke", "title": "Smoke", "notes": "notes.md.j2"}
    (smoke / "notes.md.j2").write_text(NOTES)
    (smoke / "publish.yaml").write_text(yaml.safe_dump(config))
    folder = smoke / "reproduction/smoke"

    snakemake(smoke, "reproduction/smoke/smoke_table/data", "--configfile", "publish.yaml")
    data = folder / "smoke_table/data"
    for ext in ("csv", "md"):
        assert (data / f"smoke_table.{ext}").read_bytes() == (smoke / f"results/tables/smoke_table.{ext}").read_bytes()
    comparison = smoke / "results/report/smoke/paper_comparison/smoke_table"
    for name, suffix in (
        ("paper_comparison", ""),
        ("paper_comparison_trends", "_trends"),
        ("loss_evidence", "_losses"),
    ):
        assert (data / f"{name}.csv").read_bytes() == Path(f"{comparison}{suffix}.csv").read_bytes()
    trends = pd.read_csv(data / "paper_comparison_trends.csv")
    assert set(trends["artifact"]) == {"smoke_table", "smoke_figure"}  # this table's checks, its figure's
    assert {"effective rank (fraction), fixed probe", "count at t·σmax, fixed probe"} <= set(trends["measure"])
    for figure in config["figures"]:
        assert (data / f"figures/{figure}.png").read_bytes() == (smoke / f"results/figures/{figure}.png").read_bytes()
    runs = pd.read_csv(data / "runs.csv")
    assert runs["batch_size"].tolist() == BATCH_SIZES and (runs["status"] == "ok").all()
    provenance = json.loads((data / "provenance.json").read_text())
    assert {s["stage"]: s["jobs"] for s in provenance["stages"]} == {
        "train": 2,
        "probe": PROBE_JOBS,
        "spectra": PROBE_JOBS,
    }
    assert provenance["git"] == {"commit": None, "dirty": None, "diff": None}  # the test's copy is not a git checkout
    # each stage says where it ran: the probes' records and the runs' summaries name the machine
    assert provenance["probe"]["machines"] == provenance["training"]["machines"] == provenance["spectra"]["machines"]
    assert "machine id" in provenance["training"]["machines"][0]
    assert provenance["training"]["devices"] == ["cpu"] and len(provenance["training"]["dataset_sha256"]) == 1
    # every run's measures per layer and mode, and its weights, final and initial (one file per seed)
    measured = pd.read_csv(data / "measures.csv")
    assert set(measured["probe"]) == set(PROBES) and sorted(measured["epoch"].unique()) == [0, EPOCHS]
    weights = pd.read_csv(data / "weights.csv")
    assert weights["batch_size"].tolist() == BATCH_SIZES and weights["initial"].nunique() == 1
    # rankgap-measure on a published run's weights and the fixed probe gives the published effective ranks
    out = tmp_path / "measured"
    command = [data / weights["final"].iloc[0], smoke / "data/digits.safetensors", "--batch-size", str(FIXED)]
    assert cli.main([*map(str, command), "--seed", "0", "--out", str(out)]) == 0
    again = pd.read_csv(out / "modes.csv").set_index(["layer", "mode"])["effective_rank"]
    published_rows = measured.query("batch_size == @BATCH_SIZES[0] and epoch == @EPOCHS and probe == 'train'")
    published_ranks = published_rows.drop_duplicates(["layer", "mode"]).set_index(["layer", "mode"])["effective_rank"]
    pd.testing.assert_series_equal(again.sort_index(), published_ranks.sort_index(), rtol=1e-6, check_names=False)
    published = yaml.safe_load((data / "config.yaml").read_text())
    assert published["experiments"]["smoke"]["batch_sizes"] == BATCH_SIZES and published["publish"] == config["publish"]
    assert not (folder / "README.md").exists()  # the READMEs are rule publish's alone

    snakemake(smoke, "publish", "--configfile", "publish.yaml")  # the parts published so far
    assert (
        "## Not yet published\n\nsmoke_again: each by `snakemake reproduction/smoke/<part>/data"
        in (folder / "README.md").read_text()
    )
    assert not (folder / "smoke_again").exists()
    snakemake(smoke, "publish_parts", "--configfile", "publish.yaml")
    snakemake(smoke, "publish", "--configfile", "publish.yaml")
    index = (folder / "README.md").read_text()
    test_error = pd.read_csv(smoke / "results/tables/smoke_table.csv")["test_error"].iloc[1]
    assert index.startswith("# Smoke\n") and f"test error\n{test_error:.2f}% at 512" in index
    assert "[smoke_again](smoke_again/README.md)" in index and "Not yet published" not in index
    assert "snakemake publish --cores 2 --configfile publish.yaml" in index
    readme = (folder / "smoke_table/README.md").read_text()
    assert "snakemake reproduction/smoke/smoke_table/data --cores 2 --configfile publish.yaml" in readme
    assert "data/figures/smoke_figure.png" in readme and "data/figures/smoke_components.png" in readme
    assert (folder / "smoke_again/README.md").read_text().startswith("# The same runs again")
    assert not list(folder.rglob("*.pt"))  # weights are published as safetensors only
    assert planned_jobs(smoke, "publish", "--configfile", "publish.yaml") == {}

    clone = copy_project(tmp_path / "clone")  # the committed files alone: no results/
    for name in ("publish.yaml", "notes.md.j2"):
        shutil.copy(smoke / name, clone / name)
    shutil.copytree(folder, clone / "reproduction/smoke")
    readmes = {path: path.read_bytes() for path in (clone / "reproduction/smoke").rglob("README.md")}
    for path in readmes:
        path.unlink()
    assert planned_jobs(clone, "publish", "--configfile", "publish.yaml") == {"publish": 1}
    snakemake(clone, "publish", "--configfile", "publish.yaml")
    assert {path: path.read_bytes() for path in readmes} == readmes


def test_a_run_trained_under_other_settings_is_not_published(tmp_path):
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps(default_settings(**SETTINGS, weight_decay=5e-4).as_dict() | {"status": "ok"}))
    expected = default_settings(**SETTINGS, weight_decay=1e-4).as_dict()
    with pytest.raises(ValueError, match=r"trained with other settings .*weight_decay: run 0.0005, config 0.0001"):
        part_data.check_settings([{"summary": summary, "settings": expected}])
    same = default_settings(**SETTINGS, weight_decay=5e-4).as_dict()
    assert part_data.check_settings([{"summary": summary, "settings": same}])[0]["status"] == "ok"
