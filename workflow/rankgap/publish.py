"""A published reproduction: the small, committed record of one config's results beside the paper's.

The folder (``publish.folder`` in the config, e.g. ``reproduction/fashion_mnist``) holds one
subfolder per part: a table of the paper, or a remedy comparison.  A table's holds the table (CSV
and markdown), the figures (the PNGs the pipeline wrote, byte for byte), the comparison with the
paper (every number and every trend, as CSV), the exact config, the provenance (git commit, date,
hardware, wall time per stage, library versions) and a README that puts it together: the mean
absolute difference in test error and the trend verdicts, every figure beside its components, what
drives each count.  A remedy comparison's holds its outputs (every run's numbers, the table of
conditions, the report, the figure), the config, the provenance and a README.  The folder's README
sums the parts up.  No weights, dumps or spectra: they are rebuilt, not published.
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
from .provenance import git_state, trained_at

# the libraries whose versions the analysis ran with (training's come from the runs' summaries)
ANALYSIS_LIBRARIES = ("snakemake", "torch", "numpy", "pandas", "tensorly", "matplotlib", "seaborn")


def cpu_model() -> str:
    """This machine's processor as /proc/cpuinfo names it, with the number of cores."""
    try:
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
    except OSError:
        names = []
    return f"{names[0] if names else platform.processor() or 'unknown'} ({os.cpu_count()} cores)"


def stage_times(benchmarks: dict[str, list[Path]]) -> pd.DataFrame:
    """Per stage: jobs, total and longest wall time, from Snakemake's benchmark files."""
    rows = []
    for stage, paths in benchmarks.items():
        seconds = [float(pd.read_csv(p, sep="\t")["s"].iloc[0]) for p in paths]
        rows.append(
            {"stage": stage, "jobs": len(seconds), "total_s": sum(seconds), "longest_s": max(seconds, default=math.nan)}
        )
    return pd.DataFrame(rows, columns=["stage", "jobs", "total_s", "longest_s"])


def provenance(
    summaries: list[dict],
    summary_paths: list[Path],
    benchmarks: dict[str, list[Path]],
    repo: Path,
    published: Path | None = None,
) -> dict:
    """Where, when and with what the published numbers were made."""
    written = [datetime.datetime.fromtimestamp(Path(p).stat().st_mtime, datetime.timezone.utc) for p in summary_paths]
    hosts = sorted({s["host"] for s in summaries})
    return {
        "git": git_state(repo, exclude=published),
        "published": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "runs_finished": [min(written).isoformat(timespec="seconds"), max(written).isoformat(timespec="seconds")],
        "training": {
            "hosts": hosts,
            "commits": sorted({json.dumps(trained_at(s.get("git")), sort_keys=True) for s in summaries}),
            "devices": sorted({s["device"] for s in summaries}),
            "threads_per_run": sorted({s["threads"] for s in summaries}),
            "library_versions": sorted({json.dumps(s["versions"], sort_keys=True) for s in summaries}),
            "wall_seconds_total": sum(s["wall_seconds"] for s in summaries),
        },
        "publishing_host": {
            "host": platform.node(),
            "cpu": cpu_model(),
            "same_as_training": hosts == [platform.node()],
        },
        "analysis_library_versions": {name: _version(name) for name in ANALYSIS_LIBRARIES},
        "stages": stage_times(benchmarks).to_dict("records"),
    }


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def table_summary(table: str, figures: list[str], numbers: pd.DataFrame, trends: pd.DataFrame, config: dict) -> dict:
    """One table: how far our test errors are from the paper's, and the verdict of each trend the
    paper claims (ours and the paper's own), with the count's from ``figures``, those of its experiment."""
    spec = config["tables"][table]
    errors = numbers[(numbers["artifact"] == table) & (numbers["metric"] == "test_error")]
    row = {
        "table": table,
        "experiment": spec["experiment"],
        "mean |Δ test error| (pp)": errors["difference"].abs().mean(),
        "max |Δ test error| (pp)": errors["difference"].abs().max(),
    }
    for measure in ("test error", "train loss"):
        row[measure] = _verdicts(trends[(trends["artifact"] == table) & (trends["measure"] == measure)])
    for measure in ("near-rank loss", "count + structural deficit"):
        counts = trends[trends["artifact"].isin(figures) & (trends["measure"] == measure)]
        row[measure] = "; ".join(f"{a}: {_verdicts(g)}" for a, g in counts.groupby("artifact", sort=False))
    return row


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
                rows.append(
                    {
                        "table": name,
                        "batch": str(run["batch"]),
                        "split": split,
                        "paper": ref[f"{split}_loss"],
                        **{kind: run[f"{split}_{kind}"] for kind in tables.REPORTED_LOSS},
                        "comparable fit": abs(run["train_error"] - ref["train_error_pct"]) <= 1,
                    }
                )
    return pd.DataFrame(rows, columns=["table", "batch", "split", "paper", *tables.REPORTED_LOSS, "comparable fit"])


def loss_summary(evidence: pd.DataFrame) -> pd.DataFrame:
    """Per split: the mean |ours - paper| of each kind of loss, over every run and over the comparable fits."""
    rows = []
    for split, group in evidence.groupby("split", sort=False):
        for runs, subset in (("all", group), ("comparable fits", group[group["comparable fit"]])):
            rows.append(
                {
                    "split": split,
                    "runs": runs,
                    "n": len(subset),
                    **{
                        f"mean |Δ| {kind}": (subset[kind] - subset["paper"]).abs().mean()
                        for kind in tables.REPORTED_LOSS
                    },
                }
            )
    return pd.DataFrame(rows)


def side_by_side(numbers: pd.DataFrame, table: str) -> pd.DataFrame:
    """One table's numbers: per batch size, each metric as paper / ours / difference."""
    rows = numbers[(numbers["artifact"] == table) & numbers["ours"].notna()]  # an alternative runs only some batches
    if rows.empty:
        return rows
    wide = rows.pivot_table(
        index="batch", columns="metric", values=["paper", "ours", "difference"], aggfunc="first", sort=False
    )
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


def _figure_rows(specs: dict[str, dict]) -> list[str]:
    lines = [
        "Each figure against batch size (left) beside what its count is made of (right).",
        "",
        "| figure | components |",
        "|---|---|",
    ]
    for left, right in figure_pairs(specs):
        cells = [f"![{name}](figures/{name}.png)" if name else "" for name in (left, right)]
        lines.append(f"| {cells[0]} | {cells[1]} |")
    return lines + [""]


def _provenance_lines(prov: dict) -> list[str]:
    stages = pd.DataFrame(prov["stages"])
    # the publishing host's processor is the training's only when the runs trained on it, on its CPU
    trained_here_on_the_cpu = prov["publishing_host"]["same_as_training"] and prov["training"]["devices"] == ["cpu"]
    return [
        f"- published at commit `{prov['git']['commit']}`"
        + (" (with uncommitted changes)" if prov["git"]["dirty"] else ""),
        f"- trained at commit {', '.join(map(_commit, prov['training']['commits']))}",
        f"- runs finished between {prov['runs_finished'][0]} and {prov['runs_finished'][1]}; published "
        f"{prov['published']}",
        f"- trained on {', '.join(prov['training']['hosts'])}: {', '.join(prov['training']['devices'])}, "
        f"{'/'.join(map(str, prov['training']['threads_per_run']))} thread(s) per run"
        + (f"; processor {prov['publishing_host']['cpu']}" if trained_here_on_the_cpu else ""),
        f"- training libraries: {'; '.join(prov['training']['library_versions'])}",
        f"- analysis libraries: {json.dumps(prov['analysis_library_versions'])}",
        "- the exact config: `config.yaml`; all of this as JSON: `provenance.json`",
        "",
        "Wall time per stage (Snakemake's benchmark files; jobs ran side by side, so stages overlap):",
        "",
        stages.to_markdown(index=False, floatfmt=".1f") if len(stages) else "(no benchmark files)",
        "",
    ]


def _demoted(markdown: str) -> list[str]:
    """A markdown document's lines with its headings one level down (code blocks left alone)."""
    lines, in_code = [], False
    for line in markdown.strip().splitlines():
        in_code ^= line.startswith("```")
        lines.append("#" + line if line.startswith("#") and not in_code else line)
    return lines


def _commit(state: str) -> str:
    """A run's recorded code (JSON of ``provenance.trained_at``) as `abc1234` (with uncommitted changes)."""
    state = json.loads(state)
    if not state.get("commit"):
        return "unknown (not a git checkout)"
    return (
        f"`{state['commit'][:10]}`"
        + (" (with uncommitted changes)" if state.get("dirty") else "")
        + (" (the code changed during the run)" if state.get("changed_during_run") else "")
    )


def loss_section(evidence: pd.DataFrame) -> list[str]:
    if evidence.empty:
        return []
    return [
        "## Which loss the paper prints",
        "",
        "Mean absolute difference between the paper's loss and each kind of ours, per split, over every "
        "run the paper has a number for and over those whose training error is within 1 point of the "
        "paper's (comparable fits); per run in `loss_evidence.csv`. `reported_loss` chooses what the "
        "tables show.",
        "",
        loss_summary(evidence).to_markdown(index=False, floatfmt=".4f"),
        "",
    ]


def table_readme(
    table: str,
    figures: list[str],
    config: dict,
    numbers: pd.DataFrame,
    trends: pd.DataFrame,
    evidence: pd.DataFrame,
    prov: dict,
    command: str,
) -> str:
    """A table's README: how far from the paper, every number, the trends, the figures, the provenance."""
    summary = pd.DataFrame([table_summary(table, figures, numbers, trends, config)])
    lines = [
        f"# {config['tables'][table].get('caption', table)}",
        "",
        f"Part of [the reproduction](../README.md). Regenerated by `{command}`. Every table and figure here "
        "is what the pipeline wrote under `results/`; the paper's numbers are its own "
        "(`workflow/rankgap/reference_paper_tables.csv`).",
        f"Losses shown: {tables.describe_loss(config['reported_loss'])}.",
        "",
        summary.to_markdown(index=False, floatfmt=".2f"),
        "",
        "A trend agrees when Spearman's ρ between batch size and the measure reaches the one-sided 5% "
        "critical value for its number of batch sizes (see `paper_comparison.md`).",
        "",
    ]
    shown = side_by_side(numbers, table)
    if len(shown):
        lines += ["## Every number beside the paper's", "", shown.to_markdown(index=False), ""]
    lines += ["## Trends", "", paper.trends_formatted(trends).to_markdown(index=False, disable_numparse=True), ""]
    lines += loss_section(evidence)
    if figures:
        lines += ["## Figures", ""] + _figure_rows({name: config["figures"][name] for name in figures})
    return "\n".join(lines + ["## Provenance", ""] + _provenance_lines(prov))


def publish_table(
    folder: Path,
    table: str,
    config: dict,
    table_files: dict[str, Path],
    figures: dict[str, Path],
    summaries: list[Path],
    figure_counts: dict[str, tuple[Path, float]],
    reference: Path,
    benchmarks: dict[str, list[Path]],
    repo: Path,
    command: str,
) -> None:
    """Write one table's folder (``<publish.folder>/<table>``), replacing what was there: its table,
    figures (``figures``: the PNGs of its experiment's figures by name, as the rule selects them),
    comparison with the paper, config, provenance and README."""
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "figures").mkdir(parents=True)
    for path in table_files.values():
        shutil.copyfile(path, folder / Path(path).name)
    for name, path in figures.items():
        shutil.copyfile(path, folder / "figures" / f"{name}.png")
    ref = paper.reference_tables(reference)
    numbers, trends = paper.compare(
        {table: table_files["csv"]}, {table: summaries}, figure_counts, config["reported_loss"], ref
    )
    paper.write(
        numbers,
        trends,
        folder / "paper_comparison.csv",
        folder / "paper_comparison_trends.csv",
        folder / "paper_comparison.md",
        config["reported_loss"],
    )
    prov = provenance(
        [json.loads(Path(p).read_text()) for p in summaries], summaries, benchmarks, repo, published=folder.parent
    )
    (folder / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    evidence = loss_evidence({table: pd.read_csv(table_files["csv"])}, ref)
    evidence.to_csv(folder / "loss_evidence.csv", index=False)
    pd.DataFrame([table_summary(table, list(figures), numbers, trends, config)]).to_csv(
        folder / "summary.csv", index=False
    )
    (folder / "README.md").write_text(
        table_readme(table, list(figures), config, numbers, trends, evidence, prov, command)
    )


def comparison_readme(comparison: str, report: str, table: str, prov: dict, command: str) -> str:
    """A remedy comparison's README under the report's title: the report, the table of conditions (its
    caption dropped), the figure, the provenance (``report`` and ``table``: the comparison's markdown)."""
    title, report = report.split("\n", 1)
    lines = [
        title,
        "",
        f"Part of [the published results](../README.md). Regenerated by `{command}`. Every table and figure "
        "here is what the pipeline wrote under `results/remedies/`; every run's numbers are in "
        f"`{comparison}_runs.csv`.",
        "",
        *_demoted(report),
        "",
        "## Every condition",
        "",
        table.split("\n", 1)[1].strip(),
        "",
        "## Figure",
        "",
        f"![{comparison}](figures/{comparison}.png)",
        "",
        "## Provenance",
        "",
    ]
    return "\n".join(lines + _provenance_lines(prov))


def publish_comparison(
    folder: Path,
    comparison: str,
    config: dict,
    outputs: dict[str, Path],
    summaries: list[Path],
    benchmarks: dict[str, list[Path]],
    repo: Path,
    command: str,
) -> None:
    """Write one remedy comparison's folder (``<publish.folder>/<comparison>``), replacing what was
    there: its outputs (``outputs``: the remedy_comparison rule's, by key; the figure as PNG; its
    summary row is what the folder's README shows), the config, the provenance and a README."""
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "figures").mkdir(parents=True)
    for key, path in outputs.items():
        if key == "png":
            shutil.copyfile(path, folder / "figures" / f"{comparison}.png")
        elif key != "pdf":
            shutil.copyfile(path, folder / Path(path).name)
    prov = provenance(
        [json.loads(Path(p).read_text()) for p in summaries], summaries, benchmarks, repo, published=folder.parent
    )
    (folder / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    readme = comparison_readme(
        comparison, outputs["comparison_md"].read_text(), outputs["md"].read_text(), prov, command
    )
    (folder / "README.md").write_text(readme)


def write_index(folder: Path, config: dict, notes: str, command: str, part_command: str) -> None:
    """The folder's README from the parts published so far (each a subfolder, possibly from another
    session or commit): the notes, one summary row per table and per remedy comparison, the loss
    evidence over the tables, and which parts are still to publish."""
    folder = Path(folder)
    published = [t for t in config["tables"] if (folder / t / "summary.csv").exists()]
    compared = [c for c in config["remedy_comparisons"] if (folder / c / f"{c}_summary.csv").exists()]
    lines = [
        f"# {config['publish'].get('title', folder.name)}",
        "",
        f"Regenerated from a clean clone by `{command}`; one part by `{part_command}`. Each part has a "
        "folder: a table with every number beside the paper's, the trends, its figures and the provenance of "
        "its runs; a remedy comparison with its tables, figure, verdicts and provenance (parts published in "
        "different sessions may come from different commits: each folder says which).",
        *([f"Losses shown: {tables.describe_loss(config['reported_loss'])}."] if config["tables"] else []),
        "",
    ]
    if notes:
        lines += [*_demoted(notes), ""]
    if published:
        rows = []
        for table in published:
            row = pd.read_csv(folder / table / "summary.csv", keep_default_na=False).iloc[0].to_dict()
            prov = json.loads((folder / table / "provenance.json").read_text())
            rows.append(
                {
                    **row,
                    "table": f"[{table}]({table}/README.md)",
                    "commit": (prov["git"]["commit"] or "")[:10],
                    "published": prov["published"][:10],
                }
            )
        lines += [
            "## Per table",
            "",
            pd.DataFrame(rows).to_markdown(index=False, floatfmt=".2f"),
            "",
            "A trend agrees when Spearman's ρ between batch size and the measure reaches the one-sided 5% "
            "critical value for its number of batch sizes (see each table's `paper_comparison.md`).",
            "",
        ]
        evidence = pd.concat([pd.read_csv(folder / t / "loss_evidence.csv") for t in published])
        # a run two tables share with the same number of the paper (Table 11's baseline is Table 5's) counts once
        evidence = evidence.drop_duplicates(subset=["split", "paper", *tables.REPORTED_LOSS])
        lines += loss_section(evidence.astype({"batch": str}))
    if compared:
        rows = pd.DataFrame([pd.read_csv(folder / c / f"{c}_summary.csv").iloc[0] for c in compared])
        rows.insert(0, "comparison", [f"[{c}]({c}/README.md)" for c in compared])
        for column in ("baseline gap (pp)", "near-rank loss ρ"):
            rows[column] = rows[column].map(lambda v: f"{v:+.2f}")
        lines += [
            "## Remedy comparisons",
            "",
            rows.to_markdown(index=False, disable_numparse=True),
            "",
            "ρ: Spearman's, across the remedies, between the gap and the measure's large-minus-small difference; "
            "a remedy narrows the gap when the change exceeds its run-to-run spread (see each comparison).",
            "",
        ]
    pending = [p for p in [*config["tables"], *config["remedy_comparisons"]] if p not in published + compared]
    if pending:
        lines += ["## Not yet published", "", ", ".join(pending), ""]
    (folder / "README.md").write_text("\n".join(lines))
