"""The paper's numbers beside ours, and whether our trends and the paper's agree with its claims."""

from rankgap import log_to, paper

log_to(snakemake.log[0])
p = snakemake.params
rankloss = dict(zip(p.figures.values(), snakemake.input.rankloss))
numbers, claims = paper.compare(
    dict(zip(p.tables, snakemake.input.tables)),
    p.runs,
    {figure: (rankloss[experiment], p.thresholds[figure]) for figure, experiment in p.figures.items()},
    p.reported_loss,
    paper.reference_tables(snakemake.input.reference),
)
paper.write(numbers, claims, snakemake.output.csv, snakemake.output.trends, snakemake.output.md, p.reported_loss)
