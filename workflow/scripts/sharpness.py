"""Sharpness of one run's final weights: the largest eigenvalue and the trace of the training loss's Hessian."""

from pathlib import Path

from rankgap import device, log_to, sharpness

log_to(snakemake.log[0])
p = snakemake.params
leased = device.for_job(snakemake, want_gpu=p.gpu)
weights, dataset, out = Path(snakemake.input.weights), Path(snakemake.input.data), Path(snakemake.output[0])
sharpness.of_weights(weights, dataset, out, p.images, p.seed, p.iterations, p.tolerance, p.samples, p.chunk, leased)
