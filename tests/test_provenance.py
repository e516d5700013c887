"""Every run traceable: the git state of the whole checkout, at a run's start and end, on real git repositories."""

import hashlib
import json
import subprocess
from pathlib import Path

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


def test_an_untracked_file_marks_the_checkout_dirty_and_an_ignored_one_does_not(checkout):
    """A new config or module not yet added to git changes what runs (config/gpu.yaml once did);
    build outputs that .gitignore names (results/) do not."""
    (checkout / ".gitignore").write_text("/results/\n")
    git(checkout, "add", ".gitignore")
    git(checkout, "commit", "-q", "-m", "ignore results")
    (checkout / "results").mkdir()
    (checkout / "results/run.csv").write_text("built\n")
    assert provenance.git_state(checkout)["dirty"] is False
    (checkout / "config/gpu.yaml").write_text("device: cuda\n")
    state = provenance.git_state(checkout / "workflow/rankgap")
    assert state["dirty"] is True and state["diff"]
    (checkout / "config/gpu.yaml").write_text("device: cpu\n")
    assert provenance.git_state(checkout)["diff"] != state["diff"]  # its content counts, not only its name


def test_a_machine_is_named_by_what_it_is():
    """Not by its host name alone (two VMs both called 'vm'): the processor, the GPU, a hashed id."""
    record = provenance.machine(gpu="NVIDIA H200")
    assert record["gpu"] == "NVIDIA H200" and "cores)" in record["cpu"]
    machine_id = Path("/etc/machine-id")
    if machine_id.exists() and machine_id.read_text().strip():
        expected = hashlib.sha256(machine_id.read_text().strip().encode()).hexdigest()[:12]
        assert record["machine_id"] == expected and machine_id.read_text().strip() not in json.dumps(record)


def test_the_last_change_of_some_files_is_the_same_in_every_clone(checkout, tmp_path):
    """The commit a README's rendering code was last changed at: a later commit that touches other
    files leaves it alone, an edit marks it dirty."""
    first = git(checkout, "rev-parse", "HEAD")
    (checkout / "config/run.yaml").write_text("another\n")
    git(checkout, "commit", "-q", "-am", "elsewhere")
    files = [checkout / "workflow/rankgap/train.py", checkout / "Snakefile"]
    assert provenance.last_change(files) == {"commit": first, "dirty": False}
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(checkout), str(clone))
    assert provenance.last_change([clone / "workflow/rankgap/train.py", clone / "Snakefile"])["commit"] == first
    (checkout / "Snakefile").write_text("edited\n")
    assert provenance.last_change(files) == {"commit": first, "dirty": True}


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
    assert summary["machine"] == provenance.machine()  # the processor and id, not only the host name


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
