"""Every run traceable: the git state of the whole checkout, at a run's start and end, on real git repositories."""

import hashlib
import json
import subprocess

import pytest
import torch

from conftest import digits_run_settings
from rankgap import provenance, train


def git(repo, *args) -> str:
    command = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org", *args]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path):
    """A git checkout shaped like the project's: the package, a rule file, a config, a publication."""
    repo = tmp_path / "checkout"
    for path in ("Snakefile", "workflow/rankgap/train.py", "config/run.yaml", "reproduction/part/README.md"):
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(f"{path}\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "the code")
    return repo


def test_a_clean_checkout_is_its_commit(checkout):
    state = provenance.git_state(checkout / "workflow/rankgap")
    assert state == {"commit": git(checkout, "rev-parse", "HEAD"), "dirty": False, "diff": None}


@pytest.mark.parametrize("edited", ["Snakefile", "config/run.yaml", "workflow/rankgap/train.py"])
def test_an_edit_anywhere_in_the_checkout_marks_it_dirty(checkout, edited):
    """Read from the package's folder, as a training job does, an edit outside it counts too."""
    (checkout / edited).write_text("edited\n")
    state = provenance.git_state(checkout / "workflow/rankgap")
    assert state["dirty"] is True and state["diff"]
    (checkout / edited).write_text("edited again\n")
    assert provenance.git_state(checkout / "workflow/rankgap")["diff"] != state["diff"]  # another state


def test_the_publication_folder_is_left_out_when_asked(checkout):
    (checkout / "reproduction/part/README.md").write_text("republished\n")
    assert provenance.git_state(checkout, exclude=checkout / "reproduction/part")["dirty"] is False
    assert provenance.git_state(checkout)["dirty"] is True


def test_outside_git_nothing_is_claimed(tmp_path):
    assert provenance.git_state(tmp_path) == {"commit": None, "dirty": None, "diff": None}


def train_in(checkout, tmp_path, monkeypatch, during_first_epoch=None):
    """One epoch on the digits with ``checkout`` as the run's checkout; ``during_first_epoch`` runs
    while it trains."""
    dataset, run = digits_run_settings(tmp_path)
    epoch = train._train_epoch

    def first_epoch(*args, **kwargs):
        if during_first_epoch:
            during_first_epoch()
        return epoch(*args, **kwargs)

    monkeypatch.setattr(train, "_train_epoch", first_epoch)
    folder = tmp_path / "run"
    folder.mkdir()
    files = [folder / name for name in ("weights.pt", "metrics.csv", "summary.json", "checkpoint.pt")]
    train.train(run, dataset, *files, {}, torch.device("cpu"), checkout=checkout / "workflow")
    return json.loads((folder / "summary.json").read_text()), dataset


def test_a_run_records_its_code_at_start_and_end_and_its_data(checkout, tmp_path, monkeypatch):
    summary, dataset = train_in(checkout, tmp_path, monkeypatch)
    state = {"commit": git(checkout, "rev-parse", "HEAD"), "dirty": False, "diff": None}
    assert summary["git"] == {"start": state, "end": state, "changed_during_run": False}
    assert summary["dataset_sha256"] == hashlib.sha256(dataset.read_bytes()).hexdigest()
    assert summary["device"] == "cpu" and summary["versions"]["nvidia_driver"] is None


def test_a_commit_during_a_run_is_reported(checkout, tmp_path, monkeypatch):
    before = git(checkout, "rev-parse", "HEAD")

    def commit():
        (checkout / "config/run.yaml").write_text("seeds: [0, 1, 2]\n")
        git(checkout, "commit", "-q", "-am", "another config")

    summary, _ = train_in(checkout, tmp_path, monkeypatch, during_first_epoch=commit)
    assert summary["git"]["start"]["commit"] == before
    assert summary["git"]["end"]["commit"] == git(checkout, "rev-parse", "HEAD") != before
    assert summary["git"]["changed_during_run"] is True
    assert provenance.trained_at(summary["git"]) == {"commit": before, "dirty": False, "changed_during_run": True}
