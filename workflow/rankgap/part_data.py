"""Step 1 of publishing (publication_layout.py): a part's data folder, ``<publish.folder>/<part>/data``,
copied from what the pipeline wrote under results/ (rules publish_table and publish_comparison):
the part's files, its runs' table, measures and weights, the config and the provenance, once every
run is known to hold the settings the config gives it."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import yaml

from . import tables
from .publication_layout import TABLE_FILES
from .publication_provenance import gather_provenance
from .settings import RunSettings


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


def _write_config_and_provenance(
    folder: Path, config: dict, summaries: list[dict], runs: list[dict], benchmarks, repo: Path
) -> None:
    """The config and the provenance of a part's data (``runs``: per run, its ``summary`` and the
    ``records`` of its probes)."""
    paths = [Path(run["summary"]) for run in runs]
    records = [json.loads(Path(r).read_text()) for run in runs for r in run.get("records", [])]
    prov = gather_provenance(summaries, paths, benchmarks, repo, published=folder.parents[1], records=records)
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
    _write_config_and_provenance(folder, config, read, runs, benchmarks, repo)


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
    _write_config_and_provenance(folder, config, read, runs, benchmarks, repo)
