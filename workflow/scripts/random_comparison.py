"""The appendix against the paper: its E sigma_min beside ours for every size both have."""

import pandas as pd

from rankgap import log_to, paper, tables

log_to(snakemake.log[0])
reference = paper.read_appendix_reference(snakemake.input.reference)
comparison = paper.compare_appendix(pd.concat(map(pd.read_csv, snakemake.input.tables)), reference)
tables.write(
    comparison,
    snakemake.output.csv,
    snakemake.output.md,
    None,
    paper.appendix_notes(comparison, len(reference)),
    paper.appendix_formatted(comparison),
)
