"""Sharpness of one run's final weights: the largest eigenvalue and the trace of the training loss's Hessian."""

from pathlib import Path

import torch

from rankgap import device, log_to, sharpness

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
sharpness.run(
    Path(snakemake.input.weights),
    Path(snakemake.input.data),
    Path(snakemake.output[0]),
    images=p.images,
    seed=p.seed,
    iterations=p.iterations,
    tolerance=p.tolerance,
    samples=p.samples,
    device=device.acquire(Path(snakemake.config["lock_dir"]), snakemake.config["jobs_per_gpu"], want_gpu=p.gpu),
)
