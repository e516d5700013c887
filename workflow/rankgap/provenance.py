"""Which code made a result: the git commit of the checkout, and whether it had uncommitted changes.

Recorded in training summaries and published reproductions, never part of a job's parameters:
a new commit that changes nothing a job runs reruns nothing.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def git_state(repo: Path, exclude: Path | None = None) -> dict:
    """The commit of the checkout holding ``repo`` and whether it had uncommitted changes to tracked
    files (both None outside git, or without git), leaving out changes under ``exclude`` (a
    publication's own folder, which publishing itself rewrites)."""

    def git(*args):
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()

    skipped = [f":(exclude){os.path.relpath(Path(exclude).resolve(), Path(repo).resolve())}"] if exclude else []
    try:
        return {
            "commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", *skipped)),
        }
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
