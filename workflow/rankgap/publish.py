"""A published reproduction: the small, committed record of one config's results beside the paper's.

The folder (``publish.folder`` in the config, e.g. ``reproduction/fashion_mnist``) holds the tables
(CSV and markdown), the figures (the PNGs the pipeline wrote, byte for byte), the comparison with
the paper (every number and every trend, as CSV), the exact config, the provenance (git commit,
date, hardware, wall time per stage, library versions) and a README that puts it together: per
table the mean absolute difference in test error and the trend verdicts, every figure beside its
components, what drives each count.  No weights, dumps or spectra: they are rebuilt, not published.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
import os
import platform
import shutil
from pathlib import Path

import pandas as pd
import yaml

from . import paper, tables
from .provenance import git_state

# the libraries whose versions the analysis ran with (training's come from the runs' summaries)
ANALYSIS_LIBRARIES = ("snakemake", "torch", "numpy", "pandas", "tensorly", "matplotlib", "seaborn")


def cpu_model() -> str:
    """This machine's processor as /proc/cpuinfo names it, with the number of cores."""
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
    except OSError:
        names = []
    return f"{names[0] if names else platform.processor() or 'unknown'} ({os.cpu_count()} cores)"


def stage_times(benchmarks: dict[str, list[Path]]) -> pd.DataFrame:
    """Per stage: jobs, total and longest wall time, from Snakemake's benchmark files."""
    rows = []
    for stage, paths in benchmarks.items():
        seconds = [float(pd.read_csv(p, sep="\t")["s"].iloc[0]) for p in paths]
        rows.append({"stage": stage, "jobs": len(seconds), "total_s": sum(seconds),
                     "longest_s": max(seconds, default=math.nan)})
    return pd.DataFrame(rows, columns=["stage", "jobs", "total_s", "longest_s"])


def provenance(summaries: list[dict], summary_paths: list[Path], benchmarks: dict[str, list[Path]],
               repo: Path) -> dict:
    """Where, when and with what the published numbers were made."""
    written = [datetime.datetime.fromtimestamp(Path(p).stat().st_mtime, datetime.timezone.utc) for p in summary_paths]
    hosts = sorted({s["host"] for s in summaries})
    return {
        "git": git_state(repo),
        "published": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "runs_finished": [min(written).isoformat(timespec="seconds"), max(written).isoformat(timespec="seconds")],
        "training": {
            "hosts": hosts,
            "devices": sorted({s["device"] for s in summaries}),
            "threads_per_run": sorted({s["threads"] for s in summaries}),
            "library_versions": sorted({json.dumps(s["versions"], sort_keys=True) for s in summaries}),
            "wall_seconds_total": sum(s["wall_seconds"] for s in summaries),
        },
        "publishing_host": {"host": platform.node(), "cpu": cpu_model(), "same_as_training": hosts == [platform.node()]},
        "analysis_library_versions": {name: _version(name) for name in ANALYSIS_LIBRARIES},
        "stages": stage_times(benchmarks).to_dict("records"),
    }


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def table_summary(numbers: pd.DataFrame, trends: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Per table: how far our test errors are from the paper's, and the verdict of each trend the
    paper claims (ours and the paper's own), with the count's from the figures of its experiment."""
    rows = []
    for table, spec in config["tables"].items():
        errors = numbers[(numbers["artifact"] == table) & (numbers["metric"] == "test_error")]
        row = {"table": table, "experiment": spec["experiment"],
               "mean |Δ test error| (pp)": errors["difference"].abs().mean(),
               "max |Δ test error| (pp)": errors["difference"].abs().max()}
        for measure in ("test error", "train loss"):
            row[measure] = _verdicts(trends[(trends["artifact"] == table) & (trends["measure"] == measure)])
        figures = [f for f, s in config["figures"].items() if s["experiment"] == spec["experiment"]]
        for measure in ("near-rank loss", "count + structural deficit"):
            counts = trends[trends["artifact"].isin(figures) & (trends["measure"] == measure)]
            row[measure] = "; ".join(f"{a}: {_verdicts(g)}" for a, g in counts.groupby("artifact", sort=False))
        rows.append(row)
    return pd.DataFrame(rows)


def _verdicts(rows: pd.DataFrame) -> str:
    """'agrees (ρ 0.94; paper ρ 1.00, agrees)' for one trend row, '' when there is none."""
    if rows.empty:
        return ""
    r = rows.iloc[0]
    ours = f"{r['verdict']} (ρ {r['rho']:.2f}"
    paper = f"; paper ρ {r['paper_rho']:.2f}, {r['paper_verdict']})" if not math.isnan(r["paper_rho"]) else ")"
    return ours + paper


def loss_evidence(ours: dict[str, pd.DataFrame], reference: pd.DataFrame) -> pd.DataFrame:
    """Per run the paper has a number for and per split: the paper's loss beside both kinds of ours
    (the table CSVs keep both), and whether our fit is comparable (training error within 1 point
    of the paper's: a model that fits less has another loss whichever kind is printed)."""
    rows = []
    for name, table in ours.items():
        refs = reference[reference["table"] == paper.paper_table(name)].set_index("batch")
        for _, run in table[table["batch"].astype(str).isin(refs.index)].iterrows():
            ref = refs.loc[str(run["batch"])]
            for split in tables.SPLITS:
                rows.append({"table": name, "batch": str(run["batch"]), "split": split, "paper": ref[f"{split}_loss"],
                             **{kind: run[f"{split}_{kind}"] for kind in tables.REPORTED_LOSS},
                             "comparable fit": abs(run["train_error"] - ref["train_error_pct"]) <= 1})
    return pd.DataFrame(rows, columns=["table", "batch", "split", "paper", *tables.REPORTED_LOSS, "comparable fit"])


def loss_summary(evidence: pd.DataFrame) -> pd.DataFrame:
    """Per split: the mean |ours - paper| of each kind of loss, over every run and over the comparable fits."""
    rows = []
    for split, group in evidence.groupby("split", sort=False):
        for runs, subset in (("all", group), ("comparable fits", group[group["comparable fit"]])):
            rows.append({"split": split, "runs": runs, "n": len(subset),
                         **{f"mean |Δ| {kind}": (subset[kind] - subset["paper"]).abs().mean()
                            for kind in tables.REPORTED_LOSS}})
    return pd.DataFrame(rows)


def side_by_side(numbers: pd.DataFrame, table: str) -> pd.DataFrame:
    """One table's numbers: per batch size, each metric as paper / ours / difference."""
    rows = numbers[numbers["artifact"] == table]
    if rows.empty:
        return rows
    wide = rows.pivot_table(index="batch", columns="metric", values=["paper", "ours", "difference"], aggfunc="first",
                            sort=False)
    shown = pd.DataFrame({"batch": wide.index})
    for metric in rows["metric"].unique():
        digits = 2 if metric.endswith("error") else 4
        for kind in ("paper", "ours", "difference"):
            values = wide[(kind, metric)].to_numpy()
            sign = "+" if kind == "difference" else ""
            shown[f"{metric} {kind}"] = [f"{v:{sign}.{digits}f}" for v in values]
    return shown


def figure_pairs(specs: dict[str, dict]) -> list[tuple[str | None, str | None]]:
    """Figures in rows: each figure against batch size with the components figure of the same
    experiment and threshold; figures of other kinds (against epoch) and unpaired ones on their own."""
    def key(name):
        return specs[name]["experiment"], specs[name]["threshold"]

    parts = {key(name): name for name, spec in specs.items() if spec.get("plot") == "components"}
    rows = []
    for name, spec in specs.items():
        if spec.get("plot", "batch_size") == "batch_size":
            rows.append((name, parts.pop(key(name), None)))
        elif spec["plot"] != "components":
            rows.append((name, None))
    return rows + [(None, name) for name in parts.values()]


def readme(config: dict, numbers: pd.DataFrame, trends: pd.DataFrame, evidence: pd.DataFrame, prov: dict,
           figures: dict[str, str], notes: str, command: str) -> str:
    """The folder's README: the summary, every number, the trends, the figures, the provenance."""
    summary = table_summary(numbers, trends, config)
    lines = [f"# Reproduction: {config['publish'].get('title', Path(config['publish']['folder']).name)}", "",
             f"Regenerated from a clean clone by `{command}`. Every table and figure here is what the pipeline "
             f"wrote under `results/`; the paper's numbers are its own (`workflow/rankgap/reference_paper_tables.csv`).",
             f"Losses shown: {tables.describe_loss(config['reported_loss'])}.", ""]
    if notes:
        lines += [notes.strip(), ""]
    lines += ["## Per table", "", summary.to_markdown(index=False, floatfmt=".2f"), "",
              "A trend agrees when Spearman's ρ between batch size and the measure reaches the one-sided 5% "
              "critical value for its number of batch sizes (see `comparison.md`).", ""]
    lines += ["## Every number beside the paper's", ""]
    for table in config["tables"]:
        shown = side_by_side(numbers, table)
        if len(shown):
            lines += [f"### {table}", "", config["tables"][table].get("caption", table), "",
                      shown.to_markdown(index=False), ""]
    lines += ["## Trends", "", paper.trends_formatted(trends).to_markdown(index=False, disable_numparse=True), ""]
    if len(evidence):
        lines += ["## Which loss the paper prints", "",
                  "Mean absolute difference between the paper's loss and each kind of ours, per split, over every "
                  "run the paper has a number for and over those whose training error is within 1 point of the "
                  "paper's (comparable fits); per run in `loss_evidence.csv`. `reported_loss` chooses what the "
                  "tables show.", "", loss_summary(evidence).to_markdown(index=False, floatfmt=".4f"), ""]
    lines += ["## Figures", "", "Each figure against batch size (left) beside what its count is made of (right).", "",
              "| figure | components |", "|---|---|"]
    for left, right in figure_pairs(config["figures"]):
        cells = [f"![{name}](figures/{figures[name]})" if name else "" for name in (left, right)]
        lines.append(f"| {cells[0]} | {cells[1]} |")
    stages = pd.DataFrame(prov["stages"])
    lines += ["", "## Provenance", "",
              f"- commit `{prov['git']['commit']}`" + (" (with uncommitted changes)" if prov["git"]["dirty"] else ""),
              f"- runs finished between {prov['runs_finished'][0]} and {prov['runs_finished'][1]}; published "
              f"{prov['published']}",
              f"- trained on {', '.join(prov['training']['hosts'])}: {', '.join(prov['training']['devices'])}, "
              f"{'/'.join(map(str, prov['training']['threads_per_run']))} thread(s) per run"
              + (f"; processor {prov['publishing_host']['cpu']}" if prov["publishing_host"]["same_as_training"] else ""),
              f"- training libraries: {'; '.join(prov['training']['library_versions'])}",
              f"- analysis libraries: {json.dumps(prov['analysis_library_versions'])}",
              "- the exact config: `config.yaml`; all of this as JSON: `provenance.json`", "",
              "Wall time per stage (Snakemake's benchmark files; jobs ran side by side, so stages overlap):", "",
              stages.to_markdown(index=False, floatfmt=".1f") if len(stages) else "(no benchmark files)", ""]
    return "\n".join(lines)


def publish(folder: Path, config: dict, table_files: dict[str, dict[str, Path]], figures: dict[str, Path],
            comparison: dict[str, Path], reference: Path, summaries: list[Path], benchmarks: dict[str, list[Path]],
            notes: Path | None, repo: Path, command: str) -> None:
    """Write the folder, replacing what was there."""
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "tables").mkdir(parents=True)
    (folder / "figures").mkdir()
    for files in table_files.values():
        for path in files.values():
            shutil.copyfile(path, folder / "tables" / Path(path).name)
    for path in figures.values():
        shutil.copyfile(path, folder / "figures" / Path(path).name)
    for path in comparison.values():
        shutil.copyfile(path, folder / Path(path).name)
    runs = [json.loads(Path(p).read_text()) for p in summaries]
    prov = provenance(runs, summaries, benchmarks, repo)
    (folder / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    numbers, trends = pd.read_csv(comparison["csv"]), paper.read_trends(comparison["trends"])
    ours = {name: pd.read_csv(files["csv"]) for name, files in table_files.items()}
    evidence = loss_evidence(ours, paper.reference_tables(reference))
    evidence.to_csv(folder / "loss_evidence.csv", index=False)
    text = readme(config, numbers, trends, evidence, prov, {name: Path(p).name for name, p in figures.items()},
                  Path(notes).read_text() if notes else "", command)
    (folder / "README.md").write_text(text)
