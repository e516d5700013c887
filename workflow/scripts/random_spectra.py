"""Singular values of the random matrices of one distribution and size (paper, appendix)."""

import numpy as np

from rankgap import log_to, random_matrices

log = log_to(snakemake.log[0])
w, p = snakemake.wildcards, snakemake.params
values = random_matrices.singular_values(
    w.distribution, int(w.m), int(w.n), p.repetitions, p.seed, p.dtype, snakemake.threads, p.method
)
log.info("%s %s x %s: %d matrices, mean sigma_min %.6g", w.distribution, w.m, w.n, len(values), values[:, -1].mean())
np.save(snakemake.output[0], values)
