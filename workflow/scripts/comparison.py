"""The paper's numbers beside ours, and whether our trends agree with its claims."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # the rankgap package of this checkout
import pandas as pd

from rankgap import log_to, paper, rank

log_to(snakemake.log[0])
p = snakemake.params
tables = {name: pd.read_csv(path) for name, path in zip(p.tables, snakemake.input.tables)}
rankloss = dict(zip(p.figures.values(), snakemake.input.rankloss))
totals = {}
for figure, experiment in p.figures.items():
    counts = rank.total_counts(pd.read_csv(rankloss[experiment]), p.thresholds[figure])
    totals[figure] = counts[counts["status"] == "ok"]
paper.write(paper.compare_tables(tables), paper.trends(totals, tables), snakemake.output.csv, snakemake.output.md)
