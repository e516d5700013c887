"""Near-rank-loss counts of every run of an experiment at every threshold, in one tidy table."""

from rankgap import log_to, rank

log_to(snakemake.log[0])
p = snakemake.params
rank.experiment_counts(
    p.probes, snakemake.input.spectra, snakemake.input.modes, snakemake.input.summaries, p.thresholds, p.relative
).to_csv(snakemake.output[0], index=False)
