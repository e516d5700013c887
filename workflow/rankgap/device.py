"""A GPU (or a share of one) per job.

Snakemake counts GPUs (``resources: gpu=1`` with ``--resources gpu=N``) but does not say which
device a job should use.  Each job therefore leases a device itself: a non-blocking ``flock`` on
one lock file per device and slot, held for the life of the process, so a killed job frees its
slot at once and no slot is ever held twice.  With ``jobs_per_gpu: k`` each device has k slots
(small models leave most of a GPU idle; ``--resources gpu=`` then counts slots, k per GPU), and
jobs fill one slot of every device before a second of any.  Under SLURM the scheduler has already
restricted the job to its own GPUs (CUDA_VISIBLE_DEVICES), so there is nothing to lease.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
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


def for_job(job, want_gpu: bool = True) -> torch.device:
    """The device of a pipeline job, given Snakemake's ``snakemake`` object: torch gets the job's
    threads, and the job a GPU leased under the config's ``lock_dir`` and ``jobs_per_gpu``, or the CPU."""
    torch.set_num_threads(job.threads)
    return acquire(Path(job.config["lock_dir"]), job.config["jobs_per_gpu"], want_gpu)


def acquire(lock_dir: Path, jobs_per_gpu: int = 1, want_gpu: bool = True) -> torch.device:
    """The device this job computes on: a leased GPU when there is one, else the CPU."""
    if not (want_gpu and torch.cuda.is_available()):
        return torch.device("cpu")
    if "SLURM_JOB_ID" in os.environ:
        return torch.device("cuda", 0)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = visible.split(",") if visible else [str(i) for i in range(torch.cuda.device_count())]
    index = lease(devices, lock_dir, jobs_per_gpu)
    torch.cuda.set_device(index)
    log.info("leased GPU %s (%s)", devices[index], torch.cuda.get_device_name(index))
    return torch.device("cuda", index)
