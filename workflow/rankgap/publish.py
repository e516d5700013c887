"""A published reproduction: the small, committed record of one config's results beside the paper's.

The folder (``publish.folder`` in the config, e.g. ``reproduction/fashion_mnist``) holds one
subfolder per part: a table of the paper, or a remedy comparison.  Publishing takes two steps, each
file written by one rule:

1. **A part's data** (``<part>/data/``), copied from what the pipeline wrote under results/.
   ``publish_table``: the table (CSV and markdown), every run it averages (``runs.csv``), its
   comparison with the paper as rule ``table_comparison`` wrote it (every number, every trend, the
   losses), its figures (PNG), its summary row, the config and the provenance.
   ``publish_comparison``: a remedy comparison's outputs, the config and the provenance.  Both
   refuse runs whose settings are not what the config gives them: the config a publication copies
   is the one its runs used.
2. **The READMEs** (the folder's and each part's), rendered by ``render`` from the templates of
   workflow/templates/ and the config's notes template, with the data of step 1 as their only
   numbers: every figure in a README follows from the CSVs beside it, and a clean clone rebuilds
   every README without training anything.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import math
import platform
import shutil
from pathlib import Path

import pandas as pd
import yaml

from . import paper, remedies, significance, tables
from .configuration import RunSettings
from .provenance import cpu_model, git_state, trained_at
from .significance import ALPHA
from .templates import environment

# the libraries whose versions the analysis ran with (training's come from the runs' summaries)
ANALYSIS_LIBRARIES = ("snakemake", "torch", "numpy", "pandas", "scipy", "tensorly", "matplotlib", "seaborn")
DATA = "data"  # a part's data folder, beside its README
# a table part's files, by what they hold (the table's own two are named after it)
TABLE_FILES = {
    "numbers": "paper_comparison.csv",
    "trends": "paper_comparison_trends.csv",
    "losses": "loss_evidence.csv",
    "runs": "runs.csv",
    "summary": "summary.csv",
}


# --- step 1: a part's data ---------------------------------------------------------------------


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
            "dataset_sha256": sorted({s.get("dataset_sha256") or "not recorded" for s in summaries}),
            "wall_seconds_total": sum(s["wall_seconds"] for s in summaries),
            "wall_seconds_per_run": [
                min(s["wall_seconds"] for s in summaries),
                max(s["wall_seconds"] for s in summaries),
            ],
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


def check_settings(runs: list[dict]) -> list[dict]:
    """The runs' summaries, once each is known to hold the settings the config gives its run
    (``runs``: per run, its ``summary`` file and its ``settings``, ``RunSettings.as_dict``); a
    ValueError naming the run and the settings that differ otherwise, so that nothing is published
    under a config its runs did not use."""
    read = []
    for run in runs:
        path, settings = Path(run["summary"]), run["settings"]
        summary = json.loads(path.read_text())
        stored = RunSettings.from_dict(summary).as_dict()
        differ = sorted(key for key in {*stored, *settings} if stored.get(key) != settings.get(key))
        if differ:
            raise ValueError(
                f"{path} was trained with other settings than the config gives it ("
                + "; ".join(f"{key}: run {stored.get(key)!r}, config {settings.get(key)!r}" for key in differ)
                + "): retrain it (Snakemake reruns a training whose settings changed), or publish with the "
                "config it used"
            )
        read.append(summary)
    return read


def _fresh(folder: Path) -> Path:
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "figures").mkdir(parents=True)
    return folder


def _record(folder: Path, config: dict, summaries: list[dict], runs: list[dict], benchmarks, repo: Path) -> None:
    """The config and the provenance of a part's data."""
    paths = [Path(run["summary"]) for run in runs]
    prov = provenance(summaries, paths, benchmarks, repo, published=folder.parents[1])
    (folder / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def table_summary(table: str, numbers: pd.DataFrame, trends: pd.DataFrame) -> dict:
    """One table in a row: how far our test errors are from the paper's, and the verdict of each
    trend (ours with what it rests on, then the paper's), its figures' per measure."""
    errors = numbers[(numbers["artifact"] == table) & (numbers["metric"] == "test_error")]["difference"].abs()
    row = {"table": table, "mean |Δ test error| (pp)": errors.mean(), "max |Δ test error| (pp)": errors.max()}
    for measure in ("test error", "train loss"):
        row[measure] = _verdicts(trends[(trends["artifact"] == table) & (trends["measure"] == measure)])
    for measure, *_ in paper.FIGURE_MEASURES.values():
        figures = trends[(trends["artifact"] != table) & (trends["measure"] == measure)]
        row[measure] = "; ".join(f"{a}: {_verdicts(g)}" for a, g in figures.groupby("artifact", sort=False))
    return row


def _verdicts(rows: pd.DataFrame) -> str:
    """A trend row's verdict in words, and the paper's beside it where it has one; '' for none."""
    if rows.empty:
        return ""
    row = rows.iloc[0]
    theirs = "" if math.isnan(row["paper_rho"]) else f"; paper: {row['paper_verdict']}, ρ {row['paper_rho']:+.2f}"
    return paper.verdict_in_words(row) + theirs


def publish_table(
    folder: Path,
    table: str,
    config: dict,
    table_files: list[Path],
    comparison: dict[str, Path],
    figures: dict[str, Path],
    runs: list[dict],
    benchmarks: dict[str, list[Path]],
    repo: Path,
) -> None:
    """Write one table's data folder (``<publish.folder>/<table>/data``), replacing what was there:
    its table (``table_files``: its CSV and markdown), runs (per run: its ``wildcards``, ``summary``
    and ``settings``, see check_settings), comparison with the paper (``comparison``: rule
    table_comparison's numbers, trends and losses), figures (the PNGs of its experiment's figures,
    by name), summary row, config and provenance."""
    read = check_settings(runs)
    folder = _fresh(folder)
    for path in table_files:
        shutil.copyfile(path, folder / Path(path).name)
    for name, path in figures.items():
        shutil.copyfile(path, folder / "figures" / f"{name}.png")
    for key, path in comparison.items():
        shutil.copyfile(path, folder / TABLE_FILES[key])
    tables.runs_table(runs).to_csv(folder / TABLE_FILES["runs"], index=False)
    numbers, trends = pd.read_csv(comparison["numbers"]), paper.read_trends(comparison["trends"])
    pd.DataFrame([table_summary(table, numbers, trends)]).to_csv(folder / TABLE_FILES["summary"], index=False)
    _record(folder, config, read, runs, benchmarks, repo)


def publish_comparison(
    folder: Path,
    comparison: str,
    config: dict,
    outputs: dict[str, Path],
    runs: list[dict],
    benchmarks: dict[str, list[Path]],
    repo: Path,
) -> None:
    """Write one remedy comparison's data folder (``<publish.folder>/<comparison>/data``), replacing
    what was there: its outputs (``outputs``: the remedy_comparison rule's, by key; the figure as
    PNG), the config and the provenance (``runs``: as publish_table's)."""
    read = check_settings(runs)
    folder = _fresh(folder)
    for key, path in outputs.items():
        if key == "png":
            shutil.copyfile(path, folder / "figures" / f"{comparison}.png")
        elif key != "pdf":
            shutil.copyfile(path, folder / Path(path).name)
    _record(folder, config, read, runs, benchmarks, repo)


# --- step 2: the READMEs, from the data alone --------------------------------------------------


def markdown(frame: pd.DataFrame, **options) -> str:
    """A frame as a README's table, a missing value (no trend for it, no comparable run) as n/a."""
    if not len(frame):
        return "(none)"
    return frame.astype(object).where(frame.notna(), None).to_markdown(index=False, missingval="n/a", **options)


@dataclasses.dataclass
class Provenance:
    """A part's provenance.json, as its README tells it."""

    record: dict

    @property
    def commits(self) -> str:
        return ", ".join(map(_commit, self.record["training"]["commits"]))

    @property
    def trained_here_on_the_cpu(self) -> bool:
        # the publishing host's processor is the training's only when the runs trained on it, on its CPU
        return self.record["publishing_host"]["same_as_training"] and self.record["training"]["devices"] == ["cpu"]

    @property
    def stages(self) -> str:
        stages = pd.DataFrame(self.record["stages"])
        return markdown(stages, floatfmt=".1f") if len(stages) else "(no benchmark files)"

    def __getattr__(self, key):
        return self.record[key]


def _commit(state: str) -> str:
    """A run's recorded code (JSON of ``provenance.trained_at``) as `abc1234` (with uncommitted changes)."""
    state = json.loads(state)
    if not state.get("commit"):
        return "unknown (not recorded, or not a git checkout)"
    return (
        f"`{state['commit'][:10]}`"
        + (" (with uncommitted changes)" if state.get("dirty") else "")
        + (" (the code changed during the run)" if state.get("changed_during_run") else "")
    )


@dataclasses.dataclass
class Part:
    """A published part's data folder, the config it copied and its provenance."""

    name: str
    folder: Path
    config: dict

    @classmethod
    def read(cls, folder: Path, name: str):
        data = Path(folder) / name / DATA
        return cls(name, data, yaml.safe_load((data / "config.yaml").read_text()))

    @property
    def provenance(self) -> Provenance:
        return Provenance(json.loads((self.folder / "provenance.json").read_text()))


class TablePart(Part):
    """A table's published data, for the templates: its frames, and the numbers its prose quotes."""

    def csv(self, key: str) -> pd.DataFrame:
        """A data file: 'table' (the table's CSV) or one of ``TABLE_FILES``."""
        if key == "trends":
            return paper.read_trends(self.folder / TABLE_FILES[key])
        return pd.read_csv(self.folder / (f"{self.name}.csv" if key == "table" else TABLE_FILES[key]))

    @property
    def caption(self) -> str:
        return self.config["tables"][self.name].get("caption", self.name)

    @property
    def experiment(self) -> str:
        return self.config["tables"][self.name]["experiment"]

    @property
    def summary(self) -> dict:
        return self.csv("summary").iloc[0].to_dict()

    @property
    def seeds(self) -> int:
        return int(self.csv("table")["seeds"].min())

    def ours(self, metric: str, batch) -> float:
        """Our mean over seeds at one batch size (a table row's label: 128, or '8192→128')."""
        table = self.csv("table")
        return float(table.loc[table["batch"].astype(str) == str(batch), metric].iloc[0])

    def column(self, metric: str) -> list[float]:
        """A column of our table, in its order."""
        return self.csv("table")[metric].tolist()

    def paper(self, metric: str) -> list[float]:
        """The paper's values of a metric, at the batch sizes it gives, in the table's order."""
        numbers = self.csv("numbers")
        return numbers.loc[(numbers["metric"] == metric) & numbers["ours"].notna(), "paper"].tolist()

    def differences(self, metric: str) -> list[float]:
        """Ours minus the paper's, at every batch size both have."""
        numbers = self.csv("numbers")
        return numbers.loc[(numbers["metric"] == metric) & numbers["ours"].notna(), "difference"].tolist()

    def trend(self, measure: str, artifact: str | None = None) -> dict:
        """One trend row (the table's own, or a figure's: ``artifact``) as a dict, its verdict in words
        as ``said``."""
        trends = self.csv("trends")
        rows = trends[(trends["artifact"] == (artifact or self.name)) & (trends["measure"] == measure)]
        if rows.empty:
            raise KeyError(f"{self.name}: no trend of {measure!r} for {artifact or self.name}")
        row = rows.iloc[0]
        return {**row.to_dict(), "said": paper.verdict_in_words(row)}

    @property
    def batches(self) -> list[str]:
        """The table's rows: batch sizes, or for switch runs '8192→128'."""
        return self.csv("table")["batch"].astype(str).tolist()

    def seed_values(self, column: str, batch) -> list[float]:
        """One batch size's runs, seed by seed (``runs.csv``; a switch run by its starting batch size)."""
        runs = self.csv("runs")
        start = int(str(batch).split("→")[0])
        switched = runs["switch"].notna() if "→" in str(batch) else runs["switch"].isna()
        return runs.loc[(runs["batch_size"] == start) & switched, column].tolist()

    def figure_values(self, figure: str, measure: str = "near-rank loss") -> list[float]:
        """A figure's means per batch size, as its trend row lists them."""
        values = self.trend(measure, figure)["values"]
        return [float(item.split(": ")[1]) for item in values.split(", ")]

    # tables the part README shows
    @property
    def summary_markdown(self) -> str:
        return markdown(self.csv("summary"), floatfmt=".2f")

    @property
    def side_by_side(self) -> str:
        return markdown(side_by_side(self.csv("numbers"), self.name))

    @property
    def table_markdown(self) -> str:
        return (self.folder / f"{self.name}.md").read_text().split("\n", 1)[1].strip()  # its caption dropped

    @property
    def trends_markdown(self) -> str:
        return markdown(paper.trends_formatted(self.csv("trends")), disable_numparse=True)

    @property
    def losses_markdown(self) -> str:
        evidence = self.csv("losses")
        return markdown(loss_summary(evidence), floatfmt=".4f") if len(evidence) else ""

    @property
    def figures(self) -> list[tuple[str | None, str | None]]:
        """The figures of the table's experiment (which its data hold), in rows (``figure_pairs``)."""
        return figure_pairs({n: s for n, s in self.config["figures"].items() if s["experiment"] == self.experiment})


class ComparisonPart(Part):
    """A remedy comparison's published data, for the templates: the comparison taken anew from its
    runs' numbers (``<name>_runs.csv``) by the remedies module, so that what the README says follows
    from that file whatever code published it; measures the runs lack are left out."""

    @property
    def spec(self) -> dict:
        return self.config["remedy_comparisons"][self.name]

    @property
    def caption(self) -> str:
        return self.spec.get("caption", f"Remedies for the large-batch gap: {self.name}")

    @property
    def table(self) -> pd.DataFrame:
        return remedies.conditions(pd.read_csv(self.folder / f"{self.name}_runs.csv"), self.spec["baseline"])

    @property
    def measures(self) -> pd.DataFrame:
        return remedies.tracking(self.table)

    @property
    def effects(self) -> pd.DataFrame:
        return remedies.effects(self.table)

    @property
    def summary(self) -> dict:
        return remedies.summary(self.table, self.measures, self.effects)

    @property
    def runs(self) -> pd.DataFrame:
        return pd.read_csv(self.folder / f"{self.name}_runs.csv")

    def at(self, column: str, remedy: str, batch: int) -> float:
        """A condition's mean over seeds (``remedy``: 'baseline' or a remedy's experiment)."""
        table = self.table
        return float(table.loc[(table["remedy"] == remedy) & (table["batch_size"] == batch), column].iloc[0])

    def seed_values(self, column: str, experiment: str, batch: int) -> list[float]:
        """A condition's runs, seed by seed."""
        runs = self.runs
        return runs.loc[(runs["experiment"] == experiment) & (runs["batch_size"] == batch), column].tolist()

    def across(self, column: str, batch: int) -> dict[str, float]:
        """A column at one batch size, condition by condition."""
        table = self.table[self.table["batch_size"] == batch]
        return dict(zip(table["remedy"], table[column].astype(float)))

    @property
    def narrowing(self) -> list[str]:
        """The remedies whose verdict is that the gap narrows."""
        effects = self.effects
        return effects.loc[effects["verdict"].str.contains(remedies.NARROWS), "remedy"].tolist()

    def effect(self, remedy: str, column: str) -> float:
        effects = self.effects
        return float(effects.loc[effects["remedy"] == remedy, column].iloc[0])

    def verdict(self, remedy: str) -> str:
        effects = self.effects
        return effects.loc[effects["remedy"] == remedy, "verdict"].iloc[0]

    def measure(self, name: str, column: str):
        measures = self.measures
        return measures.loc[measures["measure"] == name, column].iloc[0]

    def spread(self, batch: int) -> float:
        """The run-to-run sd of the test error at a batch size, pooled over the conditions."""
        return float(remedies.spreads(self.table).at[batch, "sd"])

    @property
    def batch_sizes(self) -> list[int]:
        return sorted(self.table["batch_size"].unique())

    @property
    def best(self) -> pd.DataFrame:
        return remedies.best(self.measures)

    @property
    def missing_measures(self) -> list[str]:
        return [remedies.MEASURES[m] for m in remedies.MEASURES if m not in set(self.measures["measure"])]

    def report(self, template: Path) -> str:
        """The comparison's report (``template``: remedies.report's), under the README's own title."""
        text = remedies.report(template, self.table, self.measures, self.effects, self.caption, self.spec["dataset"])
        return "\n".join(_demoted(text.split("\n", 1)[1]))  # under the README's own title

    @property
    def table_markdown(self) -> str:
        return markdown(remedies.formatted(self.table), disable_numparse=True)


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
            sign = "+" if kind == "difference" else ""
            shown[f"{metric} {kind}"] = [f"{v:{sign}.{digits}f}" for v in wide[(kind, metric)].to_numpy()]
    return shown


def loss_summary(evidence: pd.DataFrame) -> pd.DataFrame:
    """Per split: the mean |ours - paper| of each kind of loss, over every run and over the comparable
    fits, and in how many of those runs each kind is the nearer."""
    rows = []
    for split, group in evidence.groupby("split", sort=False):
        for runs, subset in (("all", group), ("comparable fits", group[group["comparable fit"]])):
            distance = {kind: (subset[kind] - subset["paper"]).abs() for kind in tables.REPORTED_LOSS}
            rows.append(
                {
                    "split": split,
                    "runs": runs,
                    "n": len(subset),
                    **{f"mean |Δ| {kind}": d.mean() for kind, d in distance.items()},
                    "objective nearer": int((distance["objective"] < distance["cross_entropy"]).sum()),
                }
            )
    return pd.DataFrame(rows)


def loss_verdicts(evidence: pd.DataFrame) -> dict[str, dict]:
    """Per split, over the comparable fits: in how many our objective is nearer the paper's loss than
    our cross-entropy, the sign test's p-value, and the kind that is nearer beyond chance (None
    when neither is)."""
    verdicts = {}
    for split, group in evidence[evidence["comparable fit"]].groupby("split", sort=False):
        distance = {kind: (group[kind] - group["paper"]).abs() for kind in tables.REPORTED_LOSS}
        wins = int((distance["objective"] < distance["cross_entropy"]).sum())
        p = significance.sign_test(wins, len(group))
        nearer = ("objective" if 2 * wins > len(group) else "cross_entropy") if p <= ALPHA else None
        verdicts[split] = {"n": len(group), "objective_nearer": wins, "p_value": p, "nearer": nearer}
    return verdicts


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


def _demoted(markdown_text: str) -> list[str]:
    """A markdown document's lines with its headings one level down (code blocks left alone)."""
    lines, in_code = [], False
    for line in markdown_text.strip().splitlines():
        in_code ^= line.startswith("```")
        lines.append("#" + line if line.startswith("#") and not in_code else line)
    return lines


def parts_of(config: dict) -> dict[str, str]:
    """Every part of a publication, by name: 'table' or 'comparison'."""
    return {**dict.fromkeys(config["tables"], "table"), **dict.fromkeys(config["remedy_comparisons"], "comparison")}


def part_files(folder: Path, config: dict, published: list[str]) -> list[Path]:
    """The data files the READMEs are rendered from: the ``published`` parts'."""
    files = []
    for name, kind in parts_of(config).items():
        if name not in published:
            continue
        data = Path(folder) / name / DATA
        if kind == "table":
            names = [f"{name}.csv", f"{name}.md", *TABLE_FILES.values()]
        else:
            names = [f"{name}_runs.csv"]
        files += [data / n for n in [*names, "config.yaml", "provenance.json"]]
    return files


def render(
    folder: Path,
    config: dict,
    published: list[str],
    templates: dict[str, Path],
    notes: Path | None,
    commands: dict[str, str],
) -> dict[Path, str]:
    """Every README of a publication, by path: each ``published`` part's (``templates['table']``,
    ``['comparison']``, whose report is ``['remedy_comparison']``) and the folder's (``['index']``,
    headed by the ``notes`` template, which lists the parts not published yet), from the parts' data
    alone.  ``commands``: 'data' (a part's, with ``<part>`` for its name) and 'readme', as the
    READMEs quote them."""
    folder = Path(folder)
    env = environment([*templates.values(), *([notes] if notes else [])])
    env.filters.update(index_tables=index_tables, index_comparisons=index_comparisons)
    kinds = {"table": TablePart, "comparison": ComparisonPart}
    parts = {name: kinds[kind].read(folder, name) for name, kind in parts_of(config).items() if name in published}
    tabled = [p for p in parts.values() if isinstance(p, TablePart)]
    evidence = [losses for losses in (p.csv("losses") for p in tabled) if len(losses)]  # tables the paper has
    # a run two tables share with the same number of the paper (Table 11's baseline is Table 5's) counts once
    evidence = pd.concat(evidence).drop_duplicates(["split", "paper", *tables.REPORTED_LOSS]) if evidence else None
    common = {
        "config": config,
        "parts": parts,
        "commands": commands,
        "alpha": ALPHA,
        "report_template": templates["remedy_comparison"],
        "criterion": paper.criterion(),
        "losses_shown": tables.describe_loss(config["reported_loss"]),
        "losses": loss_summary(evidence.astype({"batch": str})) if evidence is not None else None,
        "loss_verdicts": loss_verdicts(evidence) if evidence is not None else {},
        "pending": [name for name in parts_of(config) if name not in parts],
    }
    written = {}
    for name, part in parts.items():
        template = env.get_template(Path(templates[parts_of(config)[name]]).name)
        written[folder / name / "README.md"] = template.render(common, part=part, data=DATA)
    index = {
        "tables": tabled,
        "comparisons": [p for p in parts.values() if isinstance(p, ComparisonPart)],
        "notes": env.get_template(Path(notes).name).render(common) if notes else "",
    }
    written[folder / "README.md"] = env.get_template(Path(templates["index"]).name).render(common, **index)
    return written


def index_tables(tabled: list[TablePart]) -> str:
    """The index's row per table: its summary, linked, with the commit it was published at."""
    rows = [
        {
            **part.summary,
            "table": f"[{part.name}]({part.name}/README.md)",
            "seeds": part.seeds,
            "published at": (part.provenance.git["commit"] or "")[:10],
        }
        for part in tabled
    ]
    return markdown(pd.DataFrame(rows).fillna(""), floatfmt=".2f")


def index_comparisons(compared: list[ComparisonPart]) -> str:
    """The index's row per remedy comparison: its summary, linked."""
    rows = pd.DataFrame([{"comparison": f"[{c.name}]({c.name}/README.md)", **c.summary} for c in compared])
    for column in ("baseline gap (pp)", "near-rank loss ρ"):
        rows[column] = rows[column].map(lambda v: f"{v:+.2f}")
    return markdown(rows, disable_numparse=True)
