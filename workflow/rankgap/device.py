"""One GPU per job.

Snakemake counts GPUs (``resources: gpu=1`` with ``--resources gpu=N``) but does not say which
device a job should use.  Each job therefore leases a device itself: a non-blocking ``flock`` on
one lock file per device, held for the life of the process, so a killed job frees its device at
once and no two jobs ever hold the same one.  Under SLURM the scheduler has already restricted
the job to its own GPUs (CUDA_VISIBLE_DEVICES), so there is nothing to lease.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path

import torch

log = logging.getLogger(__name__)
_held = []  # open lock files: closing one (or exiting) releases the lease


def lease(devices: list[str], lock_dir: Path, poll_seconds: float = 5.0) -> int:
    """Take the first free device of ``devices`` (their ids as CUDA names them) and return its index.

    Blocks, polling, while every device is held by another process.
    """
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        for index, device in enumerate(devices):
            handle = open(lock_dir / f"gpu-{device}.lock", "a+")
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
            log.info("all %d GPUs are leased by other jobs; waiting (locks in %s)", len(devices), lock_dir)
            waited = True
        time.sleep(poll_seconds)


def acquire(lock_dir: Path, want_gpu: bool = True) -> torch.device:
    """The device this job computes on: a leased GPU when there is one, else the CPU."""
    if not (want_gpu and torch.cuda.is_available()):
        return torch.device("cpu")
    if "SLURM_JOB_ID" in os.environ:
        return torch.device("cuda", 0)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = visible.split(",") if visible else [str(i) for i in range(torch.cuda.device_count())]
    index = lease(devices, lock_dir)
    torch.cuda.set_device(index)
    log.info("leased GPU %s (%s)", devices[index], torch.cuda.get_device_name(index))
    return torch.device("cuda", index)
