"""The paper's numbers beside ours, and whether our trends and the paper's agree with its claims."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # the rankgap package of this checkout
import pandas as pd

from rankgap import log_to, paper, rank, tables

log_to(snakemake.log[0])
p = snakemake.params
reference = paper.reference_tables(snakemake.input.reference)
ours = {name: pd.read_csv(path) for name, path in zip(p.tables, snakemake.input.tables)}
runs = {name: tables.read_summaries(paths, p.reported_loss) for name, paths in p.runs.items()}
rankloss = dict(zip(p.figures.values(), snakemake.input.rankloss))
totals = {}
for figure, experiment in p.figures.items():
    counts = rank.total_counts(pd.read_csv(rankloss[experiment]), p.thresholds[figure])
    totals[figure] = counts[counts["status"] == "ok"]
paper.write(paper.compare_tables(ours, reference), paper.trends(totals, runs, reference), snakemake.output.csv,
            snakemake.output.trends, snakemake.output.md, p.reported_loss)
