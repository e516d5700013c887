"""The paper's numbers beside ours, and whether our trends and the paper's agree with its claims:
every table's comparison in one report."""

import pandas as pd

from rankgap import log_to, paper_comparison, trends

log_to(snakemake.log[0])
i, o = snakemake.input, snakemake.output
numbers = pd.concat([pd.read_csv(path) for path in i.numbers], ignore_index=True)
claims = pd.concat([trends.read_trends(path) for path in i.trends], ignore_index=True)
# a figure's trends are in the comparison of every table of its experiment and dataset: once here
claims = claims.drop_duplicates(["artifact", "dataset", "measure"])
paper_comparison.write_paper_comparison(numbers, claims, o.csv, o.trends, o.md, snakemake.params.reported_loss)
