"""Singular values of every layer and mode of one dump."""

from pathlib import Path

from rankgap import device, log_to, probe, rank

log_to(snakemake.log[0])
p = snakemake.params
leased = device.for_job(snakemake, want_gpu=p.gpu)
spectra, modes = rank.analyse(Path(snakemake.input[0]), leased, probe.DTYPES[p.dtype])
spectra.to_csv(snakemake.output.spectra, index=False, float_format="%.17g")
modes.to_csv(snakemake.output.modes, index=False, float_format="%.17g")
