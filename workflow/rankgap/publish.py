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
import functools
import hashlib
import importlib.metadata
import json
import math
import shutil
from pathlib import Path

import pandas as pd
import yaml

from . import paper, remedies, significance, status, tables, verdicts
from .configuration import RunSettings
from .measures import ALL_LAYERS, MEASURES, per_layer
from .provenance import git_state, machine, trained_at
from .significance import ALPHA
from .templates import environment
from .tracking import CATEGORIES

# the libraries whose versions the analysis ran with (training's come from the runs' summaries)
ANALYSIS_LIBRARIES = ("snakemake", "torch", "numpy", "pandas", "scipy", "tensorly", "matplotlib", "seaborn")
DATA = "data"  # a part's data folder, beside its README
# a table part's files, by what they hold (the table's own two are named after it)
TABLE_FILES = {
    "numbers": "paper_comparison.csv",
    "trends": "paper_comparison_trends.csv",
    "losses": "loss_evidence.csv",
    "runs": "runs.csv",
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


NOT_RECORDED = "not recorded"


def _machine(record: dict | None, device: str | None = None) -> str:
    """A machine record (``provenance.machine``) in words; NOT_RECORDED (with the host and device an
    older record names) where there is none."""
    if not record:
        return NOT_RECORDED + (f" (device {device})" if device else "")
    gpu = f", GPU {record['gpu']}" if record.get("gpu") else ", on the CPU"
    return f"{record['cpu']}{gpu}, machine id {record.get('machine_id') or NOT_RECORDED}"


def _stage(records: list[dict]) -> dict:
    """The commits and machines of one stage's jobs (their ``provenance.stage_record``s)."""
    if not records:
        return {"commits": [NOT_RECORDED], "machines": [NOT_RECORDED]}
    return {
        "commits": sorted({json.dumps(_code(r.get("git")), sort_keys=True) for r in records}),
        "machines": sorted({_machine(r.get("machine")) for r in records}),
    }


def _code(git: dict | None) -> dict:
    """A job's git state in the form ``provenance.trained_at`` gives a run's."""
    git = git or {}
    return {"commit": git.get("commit"), "dirty": git.get("dirty"), "changed_during_run": False}


def provenance(
    summaries: list[dict],
    summary_paths: list[Path],
    benchmarks: dict[str, list[Path]],
    repo: Path,
    published: Path | None = None,
    records: list[dict] | None = None,
) -> dict:
    """Where, when, at which commit and with what the published numbers were made, stage by stage:
    training (the runs' summaries), the probes and their spectra (``records``: the spectra jobs'
    record.json), and the analysis (the checkout now: every analysis output is rebuilt when the code
    it runs changes, so this commit's code made them)."""
    written = [datetime.datetime.fromtimestamp(Path(p).stat().st_mtime, datetime.timezone.utc) for p in summary_paths]
    records = records or []
    return {
        "git": git_state(repo, exclude=published),
        "published": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "runs_finished": [min(written).isoformat(timespec="seconds"), max(written).isoformat(timespec="seconds")],
        "training": {
            "hosts": sorted({s["host"] for s in summaries}),
            "machines": sorted({_machine(s.get("machine"), s["device"]) for s in summaries}),
            "commits": sorted({json.dumps(trained_at(s.get("git")), sort_keys=True) for s in summaries}),
            "devices": sorted({s["device"] for s in summaries}),
            "threads_per_run": sorted({s["threads"] for s in summaries}),
            "library_versions": sorted({json.dumps(s["versions"], sort_keys=True) for s in summaries}),
            "dataset_sha256": sorted({s.get("dataset_sha256") or NOT_RECORDED for s in summaries}),
            "wall_seconds_total": sum(s["wall_seconds"] for s in summaries),
            "wall_seconds_per_run": [
                min(s["wall_seconds"] for s in summaries),
                max(s["wall_seconds"] for s in summaries),
            ],
        },
        "probe": _stage([r["probe"] for r in records if r.get("probe")]),
        "spectra": _stage([r["spectra"] for r in records if r.get("spectra")]),
        "analysis_machine": _machine(machine()),
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
    """The config and the provenance of a part's data (``runs``: per run, its ``summary`` and the
    ``records`` of its probes)."""
    paths = [Path(run["summary"]) for run in runs]
    records = [json.loads(Path(r).read_text()) for run in runs for r in run.get("records", [])]
    prov = provenance(summaries, paths, benchmarks, repo, published=folder.parents[1], records=records)
    (folder / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


RUN_KEYS = ["experiment", "dataset", "batch_size", "seed"]
WEIGHTS = "weights"  # a part's folder of weights, in its data


def _run_data(folder: Path, runs: list[dict], measures: list[Path]) -> None:
    """What a part publishes of its runs beyond their summaries: every measure of every probe, layer
    and mode (measures.csv: the rows of ``measures``, the experiments' measures.csv, that belong to
    its runs), and each run's final and initial weights as safetensors (weights/, indexed by
    weights.csv; the initial weights, the same for every run of an architecture and seed, are
    named by their content and written once).  ``runs``: per run, its ``wildcards`` and files
    (``weights``, ``initial``: the epoch-0 snapshot or None)."""
    import torch  # only the data step needs it

    from . import models

    wanted = pd.DataFrame([run["wildcards"] for run in runs])[RUN_KEYS].drop_duplicates()
    if measures:
        measured = pd.concat([pd.read_csv(path) for path in measures], ignore_index=True)
        measured = measured.merge(wanted, on=RUN_KEYS)
        measured.to_csv(folder / "measures.csv", index=False, float_format="%.7g")
    (folder / WEIGHTS).mkdir()
    index = []
    for run in runs:
        w = run["wildcards"]
        final = f"{w['experiment']}-bs{w['batch_size']}-seed{w['seed']}.safetensors"
        models.save_safetensors(
            torch.load(run["weights"], map_location="cpu", weights_only=False), folder / WEIGHTS / final
        )
        initial = None
        if run.get("initial"):
            snapshot = torch.load(run["initial"], map_location="cpu", weights_only=False)
            initial = f"initial-{_state_hash(snapshot['state'])}.safetensors"
            if not (folder / WEIGHTS / initial).exists():  # the untrained network of several runs: once
                note = "the untrained network (epoch 0) of every run whose initial file this is (weights.csv)"
                models.save_safetensors(snapshot, folder / WEIGHTS / initial, epoch="0", note=note)
        index.append(
            {
                **{k: w[k] for k in RUN_KEYS},
                "final": f"{WEIGHTS}/{final}",
                "initial": initial and f"{WEIGHTS}/{initial}",
            }
        )
    pd.DataFrame(index).drop_duplicates().to_csv(folder / "weights.csv", index=False)


def _state_hash(state: dict) -> str:
    """12 hex digits of a state dict's tensors, by name and content: equal weights, one name."""
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode() + b"\0" + state[key].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def table_summary(table: str, numbers: pd.DataFrame, claims: pd.DataFrame) -> dict:
    """One table in a row: how far our test errors are from the paper's, and the verdict of each of
    its judged claims (ours, then the paper's where it has one), its figures' per measure."""
    errors = numbers[(numbers["artifact"] == table) & (numbers["metric"] == "test_error")]["difference"].abs()
    row = {"table": table, "mean |Δ test error| (pp)": errors.mean(), "max |Δ test error| (pp)": errors.max()}
    own = claims[claims["artifact"] == table]
    for measure, rows in own.groupby("measure", sort=False):
        row[measure] = _verdicts(rows)
    for measure in paper.FIGURE_MEASURES.values():
        figures = claims[(claims["artifact"] != table) & (claims["measure"] == measure)]
        if len(figures):
            row[measure] = "; ".join(f"{a}: {_verdicts(g)}" for a, g in figures.groupby("artifact", sort=False))
    return row


def _verdicts(rows: pd.DataFrame) -> str:
    """A claim's verdict (the words say which test it rests on), and the paper's beside it where it
    has one; '' for none."""
    if rows.empty:
        return ""
    row = rows.iloc[0]
    theirs = "" if pd.isna(row["paper_rho"]) else f"; paper: {row['paper_verdict']}"
    return row["verdict"] + theirs


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
    measures: list[Path],
) -> None:
    """Write one table's data folder (``<publish.folder>/<table>/data``), replacing what was there:
    its table (``table_files``: its CSV and markdown), runs (per run: its ``wildcards``, ``summary``
    and ``settings``, see check_settings), comparison with the paper (``comparison``: rule
    table_comparison's numbers, trends and losses), figures (the PNGs of its experiment's figures,
    by name), its runs' measures and weights (``_run_data``), config and provenance."""
    read = check_settings(runs)
    folder = _fresh(folder)
    for path in table_files:
        shutil.copyfile(path, folder / Path(path).name)
    for name, path in figures.items():
        shutil.copyfile(path, folder / "figures" / f"{name}.png")
    for key, path in comparison.items():
        shutil.copyfile(path, folder / TABLE_FILES[key])
    tables.runs_table(runs).to_csv(folder / TABLE_FILES["runs"], index=False)
    _run_data(folder, runs, measures)
    _record(folder, config, read, runs, benchmarks, repo)


def publish_comparison(
    folder: Path,
    comparison: str,
    config: dict,
    outputs: dict[str, Path],
    runs: list[dict],
    benchmarks: dict[str, list[Path]],
    repo: Path,
    measures: list[Path],
) -> None:
    """Write one remedy comparison's data folder (``<publish.folder>/<comparison>/data``), replacing
    what was there: its outputs (``outputs``: the remedy_comparison rule's, by key; the figure as
    PNG), its runs' measures and weights (``_run_data``), the config and the provenance (``runs``:
    as publish_table's)."""
    read = check_settings(runs)
    folder = _fresh(folder)
    for key, path in outputs.items():
        if key == "png":
            shutil.copyfile(path, folder / "figures" / f"{comparison}.png")
        elif key != "pdf":
            shutil.copyfile(path, folder / Path(path).name)
    tables.runs_table(runs).to_csv(folder / TABLE_FILES["runs"], index=False)
    _run_data(folder, runs, measures)
    _record(folder, config, read, runs, benchmarks, repo)


# --- step 2: the READMEs, from the data alone --------------------------------------------------


def markdown(frame: pd.DataFrame, **options) -> str:
    """A frame as a README's table, a missing value (no trend for it, no comparable run) as n/a."""
    if not len(frame):
        return "(none)"
    return frame.astype(object).where(frame.notna(), None).to_markdown(index=False, missingval="n/a", **options)


@dataclasses.dataclass
class Provenance:
    """A part's provenance.json, as its README tells it: a field it lacks (data published before it
    was recorded) reads NOT_RECORDED, never left out."""

    record: dict

    @property
    def git(self) -> dict:
        return self.record["git"]

    @property
    def training(self) -> dict:
        return self.record["training"]

    @property
    def runs_finished(self) -> list[str]:
        return self.record["runs_finished"]

    @property
    def published(self) -> str:
        return self.record["published"]

    @property
    def analysis_library_versions(self) -> dict:
        return self.record["analysis_library_versions"]

    @property
    def corrections(self) -> list[str]:
        """What was changed in a published record after it was written, and why (a renamed column,
        a flag the code of the time could not set), each in words, dated."""
        return self.record.get("corrections", [])

    @property
    def commits(self) -> str:
        return ", ".join(map(_commit, self.record["training"]["commits"]))

    @property
    def training_machines(self) -> str:
        training = self.record["training"]
        if "machines" in training:
            return "; ".join(training["machines"])
        hosts, devices = ", ".join(training["hosts"]), ", ".join(training["devices"])
        return f"a machine {NOT_RECORDED} (host {hosts}; device {devices})"

    def stage_commits(self, stage: str) -> str:
        commits = self.record.get(stage, {}).get("commits", [NOT_RECORDED])
        return ", ".join(c if c == NOT_RECORDED else _commit(c) for c in commits)

    def stage_machines(self, stage: str) -> str:
        return "; ".join(self.record.get(stage, {}).get("machines", [NOT_RECORDED]))

    @property
    def analysis_machine(self) -> str:
        return self.record.get("analysis_machine", NOT_RECORDED)

    @property
    def dataset_sha256(self) -> str:
        return ", ".join(self.record["training"].get("dataset_sha256") or [NOT_RECORDED])

    @property
    def training_minutes(self) -> str:
        seconds = self.record["training"].get("wall_seconds_per_run")
        if not seconds:
            return NOT_RECORDED
        return f"{seconds[0] / 60:.1f} to {seconds[1] / 60:.1f} minutes"

    @property
    def stages(self) -> str:
        stages = pd.DataFrame(self.record["stages"])
        return markdown(stages, floatfmt=".1f") if len(stages) else "(no benchmark files)"


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


def layer_summary(measured: pd.DataFrame, columns: dict[str, pd.Series], measure: str, threshold: float) -> str:
    """A markdown table of one spectrum measure per layer (its modes combined) and for every layer
    together: a column per selection of runs and probe epochs (``columns``: a boolean mask over
    ``measured``'s rows, by heading), each cell the mean ± sd over the seeds selected."""
    shown = {}
    for heading, mask in columns.items():
        rows = measured[mask]
        if rows.empty:
            continue
        layers = per_layer(rows, threshold)
        values = layers.groupby(["depth", "layer"], sort=True)[measure]
        spec = MEASURES[measure].number_format
        shown[heading] = {
            layer: spec.format(mean) + ("" if pd.isna(sd) else f" ± {spec.format(sd)}")
            for (_, layer), mean, sd in zip(values.mean().index, values.mean(), values.std())
        }
    if not shown:
        return "(no measures published)"
    frame = pd.DataFrame(shown)
    frame.index.name = "layer"
    return markdown(frame.reset_index(), disable_numparse=True)


class TablePart(Part):
    """A table's published data, for the templates: its frames, and the numbers its prose quotes."""

    def csv(self, key: str) -> pd.DataFrame:
        """A data file: 'table' (the table's CSV), one of ``TABLE_FILES``, or 'trends': the claims
        judged by today's analysis plan (``claims``)."""
        if key == "trends":
            return self.claims
        return pd.read_csv(self.folder / (f"{self.name}.csv" if key == "table" else TABLE_FILES[key]))

    @functools.cached_property
    def claims(self) -> pd.DataFrame:
        """Every claim of the part, judged anew (``verdicts.judge``): its figures' as their statistics
        were published, the table's own taken from its runs (``runs_frame``) and the paper's numbers."""
        stored = paper.read_trends(self.folder / TABLE_FILES["trends"])
        figures = stored[stored["artifact"] != self.name]
        runs = self.runs_frame
        spec = self.config["tables"][self.name]
        baseline = spec.get("baseline", {}).get("batch_size")
        unswitched = (
            runs["switch"].isna() & (runs["batch_size"] != baseline) if baseline else runs["switch"].isna() & False
        )
        reference = paper.reference_tables()
        own = paper.table_claims(
            self.name,
            runs[~unswitched],
            reference[reference["table"] == paper.paper_table(self.name)],
            runs[unswitched],
        )
        table = verdicts.judge(pd.DataFrame(own, columns=paper.TREND_COLUMNS))
        return pd.concat([table, figures], ignore_index=True)

    @functools.cached_property
    def runs_frame(self) -> pd.DataFrame:
        """runs.csv as ``tables.read_summaries`` gives runs: the row's batch label, the switch as a
        mapping; finished runs only."""
        runs = pd.read_csv(self.folder / TABLE_FILES["runs"])
        runs["switch"] = [json.loads(v) if isinstance(v, str) and v else None for v in runs["switch"]]
        runs["batch"] = [
            tables.batch_label(b, s["batch_size"] if s else None) for b, s in zip(runs["batch_size"], runs["switch"])
        ]
        runs["switch"] = runs["switch"].astype(object).where(runs["switch"].notna(), None)
        return runs[runs["status"] == status.OK].reset_index(drop=True)

    @property
    def caption(self) -> str:
        return self.config["tables"][self.name].get("caption", self.name)

    @property
    def experiment(self) -> str:
        return self.config["tables"][self.name]["experiment"]

    @property
    def summary(self) -> dict:
        return table_summary(self.name, self.csv("numbers"), self.claims)

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
        return {**row.to_dict(), "said": verdicts.verdict_in_words(row)}

    def claims_of(self, kind: str) -> list[dict]:
        """The table's own claims of one kind (``measures.GROWS``, ``verdicts.CLOSES``...), each a
        dict with its verdict in words as ``said``."""
        rows = self.claims[(self.claims["artifact"] == self.name) & (self.claims["claim_kind"] == kind)]
        return [{**row.to_dict(), "said": verdicts.verdict_in_words(row)} for _, row in rows.iterrows()]

    @property
    def no_effect_claims(self) -> list[dict]:
        """The table's claims of no effect (Table 11's: the switch closes the gap)."""
        return self.claims_of(verdicts.CLOSES)

    def has_trend(self, measure: str, artifact: str | None = None) -> bool:
        claims = self.claims
        return bool(((claims["artifact"] == (artifact or self.name)) & (claims["measure"] == measure)).any())

    @property
    def has_measures(self) -> bool:
        return (self.folder / "measures.csv").exists()

    @functools.cached_property
    def measured(self) -> pd.DataFrame:
        """measures.csv: every measure of every probe, layer and mode of the part's runs."""
        return pd.read_csv(self.folder / "measures.csv")

    def layers(self, measure: str = "effective_rank", probe: str | None = None) -> str:
        """``layer_summary`` of the table's own runs on ``probe`` (default the fixed probe), at the
        smallest and the largest batch size, trained (last epoch) and untrained (epoch 0)."""
        probe = probe or self.config["probe"]["fixed_splits"][0]
        measured = self.measured
        own = measured[(measured["experiment"] == self.experiment) & (measured["probe"] == probe)]
        last = own["epoch"] == own.groupby(["batch_size", "seed"])["epoch"].transform("max")
        sizes = sorted(own["batch_size"].unique())
        columns = {}
        for batch in (sizes[0], sizes[-1]) if sizes else ():
            columns[f"{batch}, trained"] = (own["batch_size"] == batch) & last
            columns[f"{batch}, untrained"] = (own["batch_size"] == batch) & (own["epoch"] == 0)
        return layer_summary(own, columns, measure, self.config["analysis"]["thresholds"][0])

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
        return markdown(pd.DataFrame([self.summary]), floatfmt=".2f")

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
    def has_measures(self) -> bool:
        return (self.folder / "measures.csv").exists()

    def layers(self, measure: str = "effective_rank", batch: int | None = None) -> str:
        """``layer_summary`` on the fixed probe at the last epoch: every condition at ``batch``
        (default the large batch size), the baseline at the small one, and the untrained network."""
        measured = pd.read_csv(self.folder / "measures.csv")
        measured = measured[measured["probe"] == self.config["probe"]["fixed_splits"][0]]
        last = measured["epoch"] == measured.groupby(["experiment", "batch_size", "seed"])["epoch"].transform("max")
        small, large = self.batch_sizes[0], batch or self.batch_sizes[-1]
        baseline = self.spec["baseline"]
        columns = {
            f"baseline, {small}": (measured["experiment"] == baseline) & (measured["batch_size"] == small) & last
        }
        for experiment in [baseline, *self.spec["remedies"]]:
            name = "baseline" if experiment == baseline else experiment
            columns[f"{name}, {large}"] = (
                (measured["experiment"] == experiment) & (measured["batch_size"] == large) & last
            )
        columns["untrained"] = (
            (measured["experiment"] == baseline) & (measured["batch_size"] == small) & (measured["epoch"] == 0)
        )
        return layer_summary(measured, columns, measure, self.spec["threshold"])

    @property
    def best(self) -> pd.DataFrame:
        return remedies.best(self.measures)

    @property
    def missing_measures(self) -> list[str]:
        return [MEASURES[m].label for m in remedies.EXPLANATORY if m not in set(self.measures["measure"])]

    def report(self, template: Path) -> str:
        """The comparison's report (``template``: remedies.report's), under the README's own title."""
        text = remedies.report(template, self.table, self.measures, self.effects, self.caption, self.spec["dataset"])
        return "\n".join(_demoted(text.split("\n", 1)[1]))  # under the README's own title

    @property
    def table_markdown(self) -> str:
        return markdown(remedies.formatted(self.table), disable_numparse=True)


@dataclasses.dataclass
class Answer:
    """Which measure tracks the gap (rule tracking's answer.csv and correlations.csv), as the index
    README tells it."""

    answer: pd.DataFrame
    correlations: pd.DataFrame
    runs_table: pd.DataFrame

    @classmethod
    def read(cls, files: dict[str, Path]):
        return cls(*(pd.read_csv(files[key]) for key in ("answer", "correlations", "runs")))

    @property
    def conditions(self) -> str:
        """What the runs span, in words: batch sizes, architectures, runs by kind."""
        runs = self.runs_table
        kinds = runs["kind"].value_counts()
        parts = [
            f"batch sizes {', '.join(map(str, sorted(runs['batch_size'].unique())))}",
            f"{runs['architecture'].nunique()} architecture{'s' if runs['architecture'].nunique() > 1 else ''} "
            "(model, variant, pooling, schedule)",
            *[f"{kinds[k]} {k} runs" for k in ("plain", "remedy", "switch") if k in kinds],
        ]
        return "; ".join(parts)

    def named(self, category: str) -> list[str]:
        """The (measure, layer) pairs of a category, in words."""
        rows = self.answer[self.answer["category"] == category]
        return [
            f"{r.label} ({r.layer})" if r.layer != ALL_LAYERS else f"{r.label} (all layers)" for r in rows.itertuples()
        ]

    @property
    def categories(self) -> dict[str, list[str]]:
        return {category: self.named(category) for category in CATEGORIES}

    @property
    def runs(self) -> int:
        return len(self.runs_table)

    @property
    def family(self) -> int:
        rows = self.correlations[
            (self.correlations["question"] == "held_fixed") & (self.correlations["target"] == "gap")
        ]
        return int(rows["family"].max()) if len(rows) else 0

    @property
    def table(self) -> str:
        """Per measure and layer: the category and the rho of each question, with the seeds' interval
        and the p after Holm."""

        def cell(row, key):
            rho, p = row.get(f"{key}_rho", math.nan), row.get(f"{key}_p_holm", math.nan)
            if pd.isna(rho):
                return "n/a"
            low, high = row.get(f"{key}_rho_low", math.nan), row.get(f"{key}_rho_high", math.nan)
            interval = "" if pd.isna(low) else f" [{low:+.2f}, {high:+.2f}]"
            return f"{rho:+.2f}{interval}, p {p:.2g}"

        shown = pd.DataFrame(
            {
                "measure": self.answer["label"],
                "layer": self.answer["layer"],
                "answer": self.answer["category"],
                "gap, held fixed": [cell(r, "held_fixed_gap") for _, r in self.answer.iterrows()],
                "test error, held fixed": [cell(r, "held_fixed_test_error") for _, r in self.answer.iterrows()],
                "gap, across": [cell(r, "across_gap") for _, r in self.answer.iterrows()],
                "test error, across": [cell(r, "across_test_error") for _, r in self.answer.iterrows()],
                "batch size": [cell(r, "batch_size_batch_size") for _, r in self.answer.iterrows()],
            }
        )
        return markdown(shown, disable_numparse=True)


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
    rendered_by: dict | None = None,
    tracking: dict[str, Path] | None = None,
) -> dict[Path, str]:
    """Every README of a publication, by path: each ``published`` part's (``templates['table']``,
    ``['comparison']``, whose report is ``['remedy_comparison']``) and the folder's (``['index']``,
    headed by the ``notes`` template, which lists the parts not published yet), from the parts' data
    alone, and the answer to which measure tracks the gap (``tracking``: rule tracking's outputs).
    ``commands``: 'data' (a part's, with ``<part>`` for its name) and 'readme', as the READMEs quote
    them; ``rendered_by``: the last commit of the rendering code (``provenance.last_change``)."""
    folder = Path(folder)
    env = environment([*templates.values(), *([notes] if notes else [])])
    env.filters.update(index_tables=index_tables, index_comparisons=index_comparisons)
    kinds = {"table": TablePart, "comparison": ComparisonPart}
    parts = {name: kinds[kind].read(folder, name) for name, kind in parts_of(config).items() if name in published}
    tabled = [p for p in parts.values() if isinstance(p, TablePart)]
    evidence = [losses for losses in (p.csv("losses") for p in tabled) if len(losses)]  # tables the paper has
    evidence = one_fit_per_number(pd.concat(evidence)) if evidence else None
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
        "rendered_by": _commit(json.dumps({**(rendered_by or {}), "changed_during_run": False})),
        "plan": significance.PLAN,
        "answer": Answer.read(tracking) if tracking else None,
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


def one_fit_per_number(evidence: pd.DataFrame) -> pd.DataFrame:
    """The loss evidence of every table with one row per number of the paper (analysis plan:
    loss_kind): where several of our tables stand beside the same number (Table 11's baseline is
    Table 5's run; table5_cosine stands beside Table 5), the table named after the paper's counts,
    else the first."""
    numbered = evidence.reset_index(drop=True).assign(
        paper_table=[paper.paper_table(t) for t in evidence["table"]],
        variant=[t != f"table{paper.paper_table(t)}" for t in evidence["table"]],
        other_fit=~evidence["comparable fit"].astype(bool).to_numpy(),
    )
    numbered = numbered.sort_values(["other_fit", "variant"], kind="stable")
    numbered = numbered.drop_duplicates(["paper_table", "batch", "split"]).sort_index()
    return numbered.drop(columns=["paper_table", "variant", "other_fit"])


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
