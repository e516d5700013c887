"""Singular values of every layer and mode of one dump."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # the rankgap package of this checkout
from pathlib import Path

import torch

from rankgap import activations, device, log_to, rank

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
leased = device.acquire(Path(snakemake.config["lock_dir"]), snakemake.config["jobs_per_gpu"], want_gpu=p.gpu)
spectra, modes = rank.analyse(Path(snakemake.input[0]), leased, activations.DTYPES[p.dtype])
spectra.to_csv(snakemake.output.spectra, index=False, float_format="%.17g")
modes.to_csv(snakemake.output.modes, index=False, float_format="%.17g")
