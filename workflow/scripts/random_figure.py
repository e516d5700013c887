"""One of the appendix's figures (A1-A3): the distributions of the singular values per matrix size."""

from rankgap import figures, log_to, random_matrices

log_to(snakemake.log[0])
p = snakemake.params
title = random_matrices.figure_title(snakemake.wildcards.appendix, p.distribution, p.repetitions)
figures.save(
    figures.singular_value_panels(random_matrices.load(p.sizes), title),
    snakemake.output.pdf,
    snakemake.output.png,
)
