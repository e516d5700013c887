"""Dump the probe batch's activations for one run and probe epoch."""

from pathlib import Path

import torch

from rankgap import device, log_to, probe

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
probe.dump(
    Path(snakemake.input.weights),
    Path(snakemake.input.data),
    Path(snakemake.output[0]),
    batch_size=int(snakemake.wildcards.batch_size),
    seed=p.seed,
    mode=p.mode,
    dtype=p.dtype,
    device=device.acquire(Path(snakemake.config["lock_dir"]), snakemake.config["jobs_per_gpu"], want_gpu=p.gpu),
    points=p.points,
)
