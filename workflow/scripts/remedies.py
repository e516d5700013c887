"""A comparison of remedies: the table, the figure of the gap against each measure, and the report."""

from rankgap import log_to, remedies, remedy_report

log_to(snakemake.log[0])
p = snakemake.params
per_run = remedies.run_measures(p.runs, p.experiments, p.threshold, p.probe, p.reported_loss)
remedy_report.write_comparison(
    per_run, p.baseline, p.caption, p.dataset, snakemake.input.template, **dict(snakemake.output.items())
)
