"""Dump the activations of one run's probe (the paper's probe batch, or a fixed probe) at one probe epoch."""

from pathlib import Path

from rankgap import device, log_to, probe, provenance

log_to(snakemake.log[0])
p = snakemake.params
leased = device.for_job(snakemake, want_gpu=p.gpu)
probe.dump(
    Path(snakemake.input.weights),
    Path(snakemake.input.data),
    Path(snakemake.output[0]),
    probe=snakemake.wildcards.probe,
    images=p.images,
    seed=p.seed,
    mode=p.mode,
    dtype=p.dtype,
    device=leased,
    points=p.points,
    record=provenance.stage_record(
        Path(snakemake.scriptdir), provenance.publication(snakemake.config), device.gpu_name(leased)
    ),
)
