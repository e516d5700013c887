"""Dump the probe batch's activations for one run and probe epoch."""

from pathlib import Path

from rankgap import device, log_to, probe

log_to(snakemake.log[0])
p = snakemake.params
probe.dump(
    Path(snakemake.input.weights),
    Path(snakemake.input.data),
    Path(snakemake.output[0]),
    batch_size=int(snakemake.wildcards.batch_size),
    seed=p.seed,
    mode=p.mode,
    dtype=p.dtype,
    device=device.for_job(snakemake, want_gpu=p.gpu),
    points=p.points,
)
