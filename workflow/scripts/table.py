"""One of the paper's tables: train/test error and loss per batch size."""

from rankgap import log_to, tables

log_to(snakemake.log[0])
p = snakemake.params
table = tables.metrics_table(tables.read_summaries(snakemake.input, p.reported_loss))
tables.write(
    table,
    snakemake.output.csv,
    snakemake.output.md,
    snakemake.output.tex,
    tables.loss_caption(p.caption, p.reported_loss),
)
