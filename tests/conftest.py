import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rankgap.settings import RunSettings, default_settings

REPO = Path(__file__).resolve().parents[1]

PROJECT = ("Snakefile", "config.yaml", "config", "workflow", "profiles", "envs", "examples")


def run_settings(**values) -> RunSettings:
    """A run's settings for a unit test: LeNet-5 with batch norm on digits, batch 128, 60 epochs, no
    weight decay and the schema's training defaults, then ``values``."""
    defaults = {
        "model": "lenet5",
        "variant": "bn",
        "dataset": "digits",
        "batch_size": 128,
        "seed": 0,
        "epochs": 60,
        "weight_decay": 0.0,
    }
    return default_settings(**{**defaults, **values})


def digits_run_settings(tmp_path, **options):
    """A short LeNet-5 run on the digits (built locally, no download): the dataset file and its
    settings as the pipeline makes them (schema defaults, then ``options``)."""
    from rankgap import configuration, data, settings

    config = {
        "name": "graphs",
        "experiments": {
            "graphs": {
                "model": "lenet5",
                "datasets": ["digits"],
                "batch_sizes": [64],
                "epochs": 1,
                "weight_decay": 5e-4,
                **options,
            }
        },
    }
    configuration.fill(config)
    dataset = tmp_path / "digits.safetensors"
    if not dataset.exists():
        data.prepare("digits", dataset, tmp_path / "raw")
    return dataset, settings.run_settings(config, "graphs", "digits", 64, 0)


def copy_project(dest: Path) -> Path:
    """A private copy of the workflow, so a test may edit code or config without touching the repo."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=workdir, capture_output=True, text=True
    )
    if check and result.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}")
    return result


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Rule -> number of jobs a dry run schedules ({} when there is nothing to do)."""
    out = snakemake(workdir, *args, "--dry-run", "--quiet", "rules").stdout  # --quiet's values would swallow targets
    jobs, in_table = {}, False
    for line in out.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
        elif in_table and len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            jobs[parts[0]] = int(parts[1])
    return jobs


def jobs_after_editing(workdir: Path, module: str, *args: str) -> dict[str, int]:
    """The jobs a dry run plans once a package module is edited (the edit is undone afterwards)."""
    path = workdir / f"workflow/rankgap/{module}.py"
    original = path.read_text()
    try:
        path.write_text(original + "\n# an edit\n")
        return planned_jobs(workdir, *args)
    finally:
        path.write_text(original)


@pytest.fixture(scope="session")
def quick_start(tmp_path_factory):
    """The Quick start's demo (config/demo.yaml) run as README.md writes it, in a private copy."""
    workdir = copy_project(tmp_path_factory.mktemp("quick_start"))
    snakemake(workdir, "--configfile", "config/demo.yaml")
    return workdir


@pytest.fixture(scope="session")
def smoke(tmp_path_factory):
    """The smoke config run end to end once, in a private copy of the project."""
    workdir = copy_project(tmp_path_factory.mktemp("smoke"))
    snakemake(workdir, "--configfile", "config/smoke.yaml")
    return workdir


# The fixtures that build a pipeline end to end (minutes each): every test that uses one is marked
# slow, so that `pytest -m "not slow"` is a quick first check (README, Run the tests)
BUILDING_FIXTURES = {
    "quick_start",
    "smoke",
    "example",
    "tiny",
    "paper_project",
    "remedies_smoke",
    "s3",
    "cluster",
    "fashion_mnist",
    "scratch",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if BUILDING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
