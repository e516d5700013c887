"""Which code, data and machine made a result: the git state of the whole checkout, the dataset's
checksum, the machine (processor, GPU, machine id) and the GPU driver.

Recorded in training summaries and published reproductions, never part of a job's parameters:
a new commit that changes nothing a job runs reruns nothing.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import subprocess
from pathlib import Path


def git_state(repo: Path, exclude: Path | None = None) -> dict:
    """The commit of the checkout holding ``repo``, whether anything in it differs from that commit
    (an edited tracked file, or an untracked file git does not ignore: results, data and other
    build outputs are ignored), and a checksum of the difference (``diff``: equal states are the
    same code); ``exclude``: a publication's own folder, which publishing itself rewrites.  All
    None outside git, or without git."""

    def git(*args, cwd=repo):
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout

    try:
        top = Path(git("rev-parse", "--show-toplevel").strip())
        skipped = [f":(exclude){os.path.relpath(Path(exclude).resolve(), top.resolve())}"] if exclude else []
        # the working tree against the commit: tracked files, then untracked ones by name and content
        difference = git("diff", "HEAD", "--binary", "--", ".", *skipped, cwd=top)
        untracked = git("ls-files", "--others", "--exclude-standard", "-z", "--", ".", *skipped, cwd=top)
        for name in sorted(filter(None, untracked.split("\0"))):
            content = hashlib.sha256((top / name).read_bytes()).hexdigest() if (top / name).is_file() else ""
            difference += f"untracked {name} {content}\n"
        return {
            "commit": git("rev-parse", "HEAD").strip(),
            "dirty": bool(difference),
            "diff": hashlib.sha256(difference.encode()).hexdigest()[:16] if difference else None,
        }
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None, "diff": None}


def last_change(paths: list[Path]) -> dict:
    """The last commit that changed any of ``paths`` (files of one checkout), and whether any of them
    differs from HEAD now: the code that made an output which depends on nothing else (a README
    rendered from committed data), the same in every clone of that commit.  None outside git."""
    paths = [Path(p).resolve() for p in paths]

    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=paths[0].parent, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        names = [str(p) for p in paths]
        return {
            "commit": git("log", "-1", "--format=%H", "--", *names) or None,
            "dirty": bool(git("status", "--porcelain", "--", *names)),
        }
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


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


def cpu_model() -> str:
    """The processor as /proc/cpuinfo names it (``platform.processor()`` elsewhere), with its cores."""
    try:
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
    except OSError:
        names = []
    return f"{names[0] if names else platform.processor() or 'unknown'} ({os.cpu_count()} cores)"


def machine_id() -> str | None:
    """A short, stable id of this machine: a hash of /etc/machine-id (systemd's, unique per
    installation), not the id itself; None where there is none.  Host names repeat across machines
    (two VMs both called 'vm'), this does not."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text:
            return hashlib.sha256(text.encode()).hexdigest()[:12]
    return None


def machine(gpu: str | None = None) -> dict:
    """What a machine is: its processor, the GPU a job used (``gpu``, None on the CPU), its id
    (``machine_id``) and host name (only a name: several machines may share it)."""
    return {"cpu": cpu_model(), "gpu": gpu, "machine_id": machine_id(), "host": platform.node()}


def publication(config: dict) -> Path | None:
    """The folder a config publishes into (its ``publish.folder``), which a job's record of the
    checkout leaves out: publishing rewrites it.  Read in the job, not passed as a parameter, so that
    publishing reruns no job."""
    return Path(config["publish"]["folder"]) if config.get("publish") else None


def stage_record(checkout: Path, exclude: Path | None = None, gpu: str | None = None) -> dict:
    """What a stage of the analysis (a probe, its spectra) records of itself: the checkout's state
    (``git_state``), the machine, and when it finished."""

    return {
        "git": git_state(checkout, exclude),
        "machine": machine(gpu),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


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
