"""The table of every run of the config: settings, status, final errors, wall time, device, commit."""

from rankgap import log_to, tables

log_to(snakemake.log[0])
table = tables.runs_table(snakemake.params.runs)
tables.write(
    table,
    snakemake.output.csv,
    snakemake.output.md,
    None,
    f"Every run of the config ({len(table)}): status, final errors, wall time, device and code",
    shown=tables.runs_formatted(table),
)
