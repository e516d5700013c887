"""Which code made a result: the git commit of the checkout, and whether it had uncommitted changes.

Recorded in training summaries and published reproductions, never part of a job's parameters:
a new commit that changes nothing a job runs reruns nothing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_state(repo: Path) -> dict:
    """The commit of the checkout holding ``repo`` and whether it had uncommitted changes to tracked
    files (both None outside git, or without git)."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
