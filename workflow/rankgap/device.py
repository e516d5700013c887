"""A GPU (or a share of one) per job, or a clear error when a job must have one and finds none.

Snakemake counts GPUs (``resources: gpu=1`` with ``--resources gpu=N``) but does not say which
device a job should use.  Each job therefore leases a device itself: a non-blocking ``flock`` on
one lock file per device and slot, held for the life of the process, so a killed job frees its
slot at once and no slot is ever held twice.  With ``jobs_per_gpu: k`` each device has k slots
(small models leave most of a GPU idle; ``--resources gpu=`` then counts slots, k per GPU), and
jobs fill one slot of every device before a second of any.  The devices are those the process
sees (CUDA_VISIBLE_DEVICES), and the locks are kept per host and per SLURM job: inside one
allocation (``salloc --gpus 4``, then Snakemake) the jobs share out its GPUs; a job the SLURM
executor submitted has an allocation, and so a lease, of its own, even where two jobs on a node
both see their own GPU as device 0.

The config's ``device`` says what a job that asks for a GPU may do without one: ``auto`` computes
on the CPU and logs why, ``cuda`` fails at once (before anything is written), ``cpu`` never leases.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import socket
import time
from pathlib import Path

import torch

log = logging.getLogger(__name__)
_held = []  # open lock files: closing one (or exiting) releases the lease


def lease(devices: list[str], lock_dir: Path, jobs_per_gpu: int = 1, poll_seconds: float = 5.0) -> int:
    """Take a free slot of ``devices`` (their ids as CUDA names them) and return the device's index.

    Blocks, polling, while every slot of every device is held by another process.
    """
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        for slot, (index, device) in itertools.product(range(jobs_per_gpu), enumerate(devices)):
            name = f"gpu-{device}.lock" if slot == 0 else f"gpu-{device}.{slot}.lock"
            handle = open(lock_dir / name, "a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            _held.append(handle)
            return index
        if not waited:
            log.info(
                "all %d GPUs (%d jobs each) are leased by other jobs; waiting (locks in %s)",
                len(devices),
                jobs_per_gpu,
                lock_dir,
            )
            waited = True
        time.sleep(poll_seconds)


POLICIES = ("auto", "cuda", "cpu")  # the config's `device` (workflow/schemas/config.schema.yaml)


class NoGPUError(RuntimeError):
    """A job was told to compute on a GPU (``device: cuda``) and finds none it can use."""


def for_job(job, want_gpu: bool = True) -> torch.device:
    """The device of a pipeline job, given Snakemake's ``snakemake`` object: torch gets the job's
    threads, and the job a GPU leased under the config's ``lock_dir`` and ``jobs_per_gpu``, or the
    CPU as the config's ``device`` allows."""
    torch.set_num_threads(job.threads)
    return acquire(Path(job.config["lock_dir"]), job.config["jobs_per_gpu"], want_gpu, job.config["device"])


def gpu_name(device: torch.device) -> str | None:
    """The name of the GPU ``device`` is (None for the CPU): what a record says a job ran on."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else None


def acquire(lock_dir: Path, jobs_per_gpu: int = 1, want_gpu: bool = True, policy: str = "auto") -> torch.device:
    """The device this job computes on: a leased GPU when it wants one and there is one; else the
    CPU, which ``policy`` ``cuda`` refuses (``NoGPUError``) and ``auto`` logs."""
    if policy not in POLICIES:
        raise ValueError(f"device: {policy!r} is not one of {', '.join(POLICIES)}")
    if not want_gpu or policy == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        if policy == "cuda":
            raise NoGPUError(
                f"device: cuda, but this job finds no usable GPU ({why_no_gpu()}). Run it where a GPU is "
                "visible (on a cluster: a job granted one, e.g. profiles/slurm), or set device: auto to "
                "let it compute on the CPU."
            )
        log.warning("this job asked for a GPU and computes on the CPU: no usable GPU (%s)", why_no_gpu())
        return torch.device("cpu")
    devices = visible_devices()
    index = lease(devices, Path(lock_dir) / lease_scope(), jobs_per_gpu)
    torch.cuda.set_device(index)
    log.info("leased GPU %s (%s)", devices[index], torch.cuda.get_device_name(index))
    return torch.device("cuda", index)


def require_gpu() -> None:
    """Raise NoGPUError unless torch sees a GPU here: for ``device: cuda`` where the jobs run on this
    machine (the Snakefile checks before any job)."""
    if not torch.cuda.is_available():
        raise NoGPUError(
            f"device: cuda, but the jobs run on this machine and it has no usable GPU ({why_no_gpu()}). Run "
            "where a GPU is visible (on a cluster: profiles/slurm, whose jobs are granted one), or set device: "
            "auto to let the jobs compute on the CPU."
        )


def why_no_gpu() -> str:
    """What a user needs to see why torch finds no GPU: the host, CUDA_VISIBLE_DEVICES, torch's CUDA build."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return (
        f"host {socket.gethostname()}, CUDA_VISIBLE_DEVICES={'unset' if visible is None else repr(visible)}, "
        f"torch {torch.__version__} built "
        + (f"with CUDA {torch.version.cuda}" if torch.version.cuda else "without CUDA (a CPU-only wheel)")
    )


def visible_devices() -> list[str]:
    """The GPUs this process sees, as CUDA_VISIBLE_DEVICES names them (indices or UUIDs), in torch's order."""
    count = torch.cuda.device_count()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return visible.split(",")[:count] if visible else [str(i) for i in range(count)]


def lease_scope() -> str:
    """The folder of this process's locks under lock_dir: one per host, and one per SLURM job
    inside SLURM, whose GPUs are its own (the lock folder may sit on a filesystem shared by nodes)."""
    job = os.environ.get("SLURM_JOB_ID")
    return socket.gethostname() + (f"-slurm{job}" if job else "")
