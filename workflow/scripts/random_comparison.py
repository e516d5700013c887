"""The appendix against the paper: its E sigma_min beside ours for every size both have."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # the rankgap package of this checkout
import pandas as pd

from rankgap import log_to, randmat, tables

log_to(snakemake.log[0])
reference = randmat.read_reference(snakemake.input.reference)
comparison = randmat.comparison(pd.concat(map(pd.read_csv, snakemake.input.tables)), reference)
tables.write(comparison, snakemake.output.csv, snakemake.output.md, None,
             tables.comparison_notes(comparison, len(reference)), tables.comparison_formatted(comparison))
