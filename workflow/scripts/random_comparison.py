"""The appendix against the paper: its E sigma_min beside ours for every size both have."""

import pandas as pd

from rankgap import log_to, random_comparison, tables

log_to(snakemake.log[0])
reference = random_comparison.read_reference(snakemake.input.reference)
comparison = random_comparison.compare(pd.concat(map(pd.read_csv, snakemake.input.tables)), reference)
tables.write(
    comparison,
    snakemake.output.csv,
    snakemake.output.md,
    None,
    random_comparison.notes(comparison, len(reference)),
    random_comparison.formatted_comparison(comparison),
)
