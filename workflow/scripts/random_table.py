"""One of the appendix's tables (A1-A3): E sigma_min per matrix size."""

from rankgap import log_to, random_matrices, tables

log_to(snakemake.log[0])
p = snakemake.params
table = random_matrices.summary(random_matrices.load(p.sizes), p.distribution)
tables.write(
    table,
    snakemake.output.csv,
    snakemake.output.md,
    snakemake.output.tex,
    random_matrices.table_caption(snakemake.wildcards.appendix, p.distribution, p.repetitions),
    tables.sigma_min_formatted(table),
)
