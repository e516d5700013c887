"""A publication's provenance: where, when, at which commit and on what each stage of a part's
numbers was made, gathered when its data are copied (``gather_provenance``, written to the part's
provenance.json) and read back as its README tells it (``Provenance``).

The runs' own records (their summaries, the probes' record.json) come from provenance.py, which
training writes with; this module only gathers and words them.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import math
from pathlib import Path

import pandas as pd

from .provenance import git_state, machine, trained_at
from .templates import markdown

ANALYSIS_LIBRARIES = ("snakemake", "torch", "numpy", "pandas", "scipy", "tensorly", "matplotlib", "seaborn")
NOT_RECORDED = "not recorded"


def stage_times(benchmarks: dict[str, list[Path]]) -> pd.DataFrame:
    """Per stage: jobs, total and longest wall time, from Snakemake's benchmark files."""
    rows = []
    for stage, paths in benchmarks.items():
        seconds = [float(pd.read_csv(p, sep="\t")["s"].iloc[0]) for p in paths]
        rows.append(
            {"stage": stage, "jobs": len(seconds), "total_s": sum(seconds), "longest_s": max(seconds, default=math.nan)}
        )
    return pd.DataFrame(rows, columns=["stage", "jobs", "total_s", "longest_s"])


def _machine_in_words(record: dict | None, device: str | None = None) -> str:
    """A machine record (``provenance.machine``) in words; NOT_RECORDED (with the host and device an
    older record names) where there is none."""
    if not record:
        return NOT_RECORDED + (f" (device {device})" if device else "")
    gpu = f", GPU {record['gpu']}" if record.get("gpu") else ", on the CPU"
    return f"{record['cpu']}{gpu}, machine id {record.get('machine_id') or NOT_RECORDED}"


def _stage_code_and_machines(records: list[dict]) -> dict:
    """The commits and machines of one stage's jobs (their ``provenance.stage_record``s)."""
    if not records:
        return {"commits": [NOT_RECORDED], "machines": [NOT_RECORDED]}
    return {
        "commits": sorted({json.dumps(_job_code(r.get("git")), sort_keys=True) for r in records}),
        "machines": sorted({_machine_in_words(r.get("machine")) for r in records}),
    }


def _job_code(git: dict | None) -> dict:
    """A job's git state in the form ``provenance.trained_at`` gives a run's."""
    git = git or {}
    return {"commit": git.get("commit"), "dirty": git.get("dirty"), "changed_during_run": False}


def gather_provenance(
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
            "machines": sorted({_machine_in_words(s.get("machine"), s["device"]) for s in summaries}),
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
        "probe": _stage_code_and_machines([r["probe"] for r in records if r.get("probe")]),
        "spectra": _stage_code_and_machines([r["spectra"] for r in records if r.get("spectra")]),
        "analysis_machine": _machine_in_words(machine()),
        "analysis_library_versions": {name: _version(name) for name in ANALYSIS_LIBRARIES},
        "stages": stage_times(benchmarks).to_dict("records"),
    }


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _recorded(key: str) -> property:
    """A field of the record, as a property (a template's typo stays Jinja's error, not a KeyError)."""
    return property(lambda self: self.record[key], doc=f"provenance.json's {key}")


@dataclasses.dataclass
class Provenance:
    """A part's provenance.json, as its README tells it: a field it lacks (data published before it
    was recorded) reads NOT_RECORDED, never left out.  Every field a template reads is a property
    here, so that a mistyped one is Jinja's own error (templates.environment is strict)."""

    record: dict

    git = _recorded("git")
    training = _recorded("training")
    runs_finished = _recorded("runs_finished")
    published = _recorded("published")
    analysis_library_versions = _recorded("analysis_library_versions")

    @property
    def corrections(self) -> list[str]:
        """What was changed in a published record after it was written, and why (a renamed column,
        a flag the code of the time could not set), each in words, dated."""
        return self.record.get("corrections", [])

    @property
    def commits(self) -> str:
        return ", ".join(map(commit_in_words, self.record["training"]["commits"]))

    @property
    def training_machines(self) -> str:
        training = self.record["training"]
        if "machines" in training:
            return "; ".join(training["machines"])
        hosts, devices = ", ".join(training["hosts"]), ", ".join(training["devices"])
        return f"a machine {NOT_RECORDED} (host {hosts}; device {devices})"

    def stage_commits(self, stage: str) -> str:
        commits = self.record.get(stage, {}).get("commits", [NOT_RECORDED])
        return ", ".join(c if c == NOT_RECORDED else commit_in_words(c) for c in commits)

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


def commit_in_words(state: str) -> str:
    """A run's recorded code (JSON of ``provenance.trained_at``) as `abc1234` (with uncommitted changes)."""
    state = json.loads(state)
    if not state.get("commit"):
        return "unknown (not recorded, or not a git checkout)"
    return (
        f"`{state['commit'][:10]}`"
        + (" (with uncommitted changes)" if state.get("dirty") else "")
        + (" (the code changed during the run)" if state.get("changed_during_run") else "")
    )
