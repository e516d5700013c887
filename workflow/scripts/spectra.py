"""Singular values of every layer and mode of one dump."""

from pathlib import Path

import torch

from rankgap import device, log_to, probe, rank

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
leased = device.acquire(Path(snakemake.config["lock_dir"]), snakemake.config["jobs_per_gpu"], want_gpu=p.gpu)
spectra, modes = rank.analyse(Path(snakemake.input[0]), leased, probe.DTYPES[p.dtype])
spectra.to_csv(snakemake.output.spectra, index=False, float_format="%.17g")
modes.to_csv(snakemake.output.modes, index=False, float_format="%.17g")
