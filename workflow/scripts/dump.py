"""Dump the probe batch's activations for one run and probe epoch."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # the rankgap package of this checkout
from pathlib import Path

import torch

from rankgap import activations, device, log_to

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
activations.dump(
    Path(snakemake.input.weights), Path(snakemake.input.data), Path(snakemake.output[0]),
    batch_size=int(snakemake.wildcards.batch_size), seed=p.seed, mode=p.mode, dtype=p.dtype,
    device=device.acquire(Path(snakemake.config["lock_dir"]), snakemake.config["jobs_per_gpu"], want_gpu=p.gpu), points=p.points,
)
