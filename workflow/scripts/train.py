"""Train one run on the device this job leases."""

from pathlib import Path

import torch

from rankgap import device, log_to, train
from rankgap.configuration import RunSettings

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
train.train(
    RunSettings.from_dict(p.settings),
    Path(snakemake.input.data),
    Path(snakemake.output.weights),
    Path(snakemake.output.metrics),
    Path(snakemake.output.summary),
    Path(p.checkpoint),
    snapshots={e: Path(path) for e, path in zip(p.snapshot_epochs, snakemake.output.snapshots)},
    device=device.acquire(Path(snakemake.config["lock_dir"]), snakemake.config["jobs_per_gpu"]),
)
