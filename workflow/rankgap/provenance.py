"""Which code and data made a result: the git state of the whole checkout, the dataset's checksum,
the GPU driver.

Recorded in training summaries and published reproductions, never part of a job's parameters:
a new commit that changes nothing a job runs reruns nothing.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path


def git_state(repo: Path, exclude: Path | None = None) -> dict:
    """The commit of the checkout holding ``repo``, whether its tracked files anywhere in it (the
    Snakefile, workflow/, config/, envs/, profiles/...) differ from that commit, and a checksum of
    the difference (``diff``: equal states are the same code); ``exclude``: a publication's own
    folder, which publishing itself rewrites.  All None outside git, or without git."""

    def git(*args, cwd=repo):
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout

    try:
        top = Path(git("rev-parse", "--show-toplevel").strip())
        skipped = [f":(exclude){os.path.relpath(Path(exclude).resolve(), top.resolve())}"] if exclude else []
        # the working tree against the commit, tracked files only (results and data are ignored)
        difference = git("diff", "HEAD", "--binary", "--", ".", *skipped, cwd=top)
        return {
            "commit": git("rev-parse", "HEAD").strip(),
            "dirty": bool(difference),
            "diff": hashlib.sha256(difference.encode()).hexdigest()[:16] if difference else None,
        }
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None, "diff": None}


def run_code(start: dict, end: dict) -> dict:
    """A run's code: the checkout's state (``git_state``) when it started and when it ended, and
    whether it changed in between (a commit, or an edit to uncommitted code)."""
    return {"start": start, "end": end, "changed_during_run": start != end}


def sha256(path: Path) -> str:
    """The SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def nvidia_driver() -> str | None:
    """The NVIDIA driver's version as nvidia-smi prints it; None without nvidia-smi."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0].strip() if out.strip() else None


def trained_at(code: dict | None) -> dict:
    """A run's recorded code (``run_code``) in one flat record: the commit it started at, whether
    the checkout had uncommitted changes when it started or ended, whether the code changed during
    the run.  None throughout for a run without a record."""
    if not code:
        return {"commit": None, "dirty": None, "changed_during_run": None}
    start, end = code["start"], code["end"]
    dirty = None if start["dirty"] is None else bool(start["dirty"] or end["dirty"])
    return {"commit": start["commit"], "dirty": dirty, "changed_during_run": code["changed_during_run"]}
