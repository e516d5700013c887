"""README's Quick start as a newcomer follows it: the demo's figures show a trend, its report
holds its own results, and a second config run in the same checkout keeps its own."""

import shutil
import zipfile
from pathlib import Path

import pandas as pd
import yaml

from conftest import copy_project, planned_jobs, snakemake
from rankgap import measures


def fixed_probe_effective_rank(workdir, experiment):
    """The demo's figure's numbers: the effective-rank fraction over every layer and mode on the fixed
    probe, per batch size and epoch (mean over seeds)."""
    frame = pd.read_csv(workdir / f"results/analysis/{experiment}/measures.csv")
    frame = frame[frame["probe"] == "train"]
    together = measures.per_layer(frame, frame["threshold"].iloc[0]).query("layer == @measures.ALL_LAYERS")
    return together.groupby(["epoch", "batch_size"])["effective_rank_fraction"].mean().unstack("batch_size")


def test_the_demos_measure_figure_shows_training_make_a_trend_the_untrained_network_lacks(quick_start):
    """What README says the demo shows: on the fixed probe the effective rank of the untrained network
    is the same at every batch size (the same weights and images), and after training it differs
    between batch sizes, a figure per experiment drawing both."""
    for experiment in ("demo_bn", "demo_linear"):
        assert (quick_start / f"results/figures/{experiment}_effective_rank.png").stat().st_size > 10_000
        by_epoch = fixed_probe_effective_rank(quick_start, experiment)
        untrained, trained = by_epoch.loc[0], by_epoch.loc[by_epoch.index.max()]
        assert untrained.max() - untrained.min() < 1e-9  # one network, one probe: no trend without training
        assert trained.max() - trained.min() > 0.02  # training makes one
        assert trained.idxmin() == trained.index.min()  # "the smallest batch lowest"


def test_the_demos_count_is_zero_after_training_and_mostly_dead_units_before(quick_start):
    """README's reason the demo's count figure is flat at 0: what the untrained network's count holds
    is mostly exact zeros of dead units, and nothing is left from the fifth epoch on."""
    counts = pd.read_csv(quick_start / "results/analysis/demo_bn/rankloss.csv").query("threshold == 1e-4")
    totals = counts.groupby("epoch")[["count", "dead_zeros"]].sum()
    assert totals.loc[0, "count"] > 0 and totals.loc[0, "dead_zeros"] > totals.loc[0, "count"] / 2
    assert (totals.loc[5:, "count"] == 0).all()


def test_the_run_ends_saying_where_its_results_are(quick_start):
    logs = sorted((quick_start / ".snakemake/log").glob("*.snakemake.log"))
    said = [log.read_text() for log in logs]
    assert any("Config 'demo'" in text and "results/report/demo/paper_comparison.md" in text for text in said)
    assert not any("Shell command: None" in text for text in said)


def reported(workdir, config, name):
    """What a report of ``config`` embeds (`snakemake --report` as a zip): file name -> text of each
    markdown file, and the names of every file."""
    snakemake(workdir, "--report", f"{name}.zip", "--configfile", config)
    with zipfile.ZipFile(workdir / f"{name}.zip") as archive:
        names = [Path(n).name for n in archive.namelist()]
        texts = {Path(n).name: archive.read(n).decode() for n in archive.namelist() if n.endswith(".md")}
    return texts, names


def test_two_configs_in_one_checkout_keep_their_own_reports(quick_start):
    """The smoke config run where the demo ran: each config's comparison, runs and report are its
    own, neither reruns the other's, and a config that takes another's name is refused a report."""
    snakemake(quick_start, "--configfile", "config/smoke.yaml")
    assert planned_jobs(quick_start, "--configfile", "config/demo.yaml") == {}
    for config, other in (("demo", "smoke"), ("smoke", "demo")):  # every table and figure named after its config
        comparison = (quick_start / f"results/report/{config}/paper_comparison.md").read_text()
        assert f"{config}_" in comparison and f"{other}_" not in comparison
        texts, names = reported(quick_start, f"config/{config}.yaml", f"{config}_report")
        assert texts["paper_comparison.md"] == comparison
        assert any(n.startswith(f"{config}_") and n.endswith(".png") for n in names)
        assert not any(n.startswith(f"{other}_") for n in names)
    # a copy of the demo's config under its name, with one table less: its report would show the
    # demo's comparison, which this config did not make
    config = yaml.safe_load((quick_start / "config/demo.yaml").read_text())
    del config["tables"]["demo_linear"]
    (quick_start / "copy.yaml").write_text(yaml.safe_dump(config))
    refused = snakemake(quick_start, "--report", "copy.html", "--configfile", "copy.yaml", check=False)
    assert refused.returncode != 0
    assert "ReportError" in refused.stderr and "comparison 1" in refused.stderr
    assert not (quick_start / "copy.html").exists()


def test_a_report_without_a_config_names_the_config_to_give(tmp_path):
    project = copy_project(tmp_path)
    result = snakemake(project, "--report", "report.html", check=False)
    assert result.returncode != 0
    assert "no --configfile" in result.stderr and "--configfile config/demo.yaml" in result.stderr
    assert not (project / "report.html").exists()
    shutil.rmtree(project)


def test_every_rule_says_what_it_does_in_the_rule_list(tmp_path):
    """`snakemake -l`: each rule with its docstring, one line each."""
    listed = snakemake(copy_project(tmp_path), "--list-rules", "--configfile", "config/demo.yaml").stdout
    rules = [line for line in listed.splitlines() if line and not line.startswith("Using ")]
    assert len(rules) > 20
    undocumented = [line for line in rules if not line.endswith(")") or " (" not in line]
    assert not undocumented, undocumented


def test_editing_a_config_error_message_reruns_nothing_of_the_demo(quick_start):
    """configuration.py holds the config's checks, which no job's code reaches (docs/reruns.md): a
    reworded message plans no job, where the run settings' module would retrain every run."""
    module = quick_start / "workflow/rankgap/configuration.py"
    original = module.read_text()
    assert "give exactly one of" in original
    try:
        module.write_text(original.replace("give exactly one of", "name exactly one of"))
        assert planned_jobs(quick_start, "--configfile", "config/demo.yaml") == {}
    finally:
        module.write_text(original)
    settings = quick_start / "workflow/rankgap/settings.py"
    original = settings.read_text()
    try:
        settings.write_text(original + "\n# an edit\n")
        assert planned_jobs(quick_start, "--configfile", "config/demo.yaml")["train"] == 8
    finally:
        settings.write_text(original)
