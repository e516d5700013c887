"""Near-rank-loss counts of every run of an experiment at every threshold, in one tidy table, and
the scale-invariant measures of the same spectra beside them."""

from rankgap import log_to, rank, scale_invariant

log_to(snakemake.log[0])
p = snakemake.params
rank.experiment_counts(p.probes, p.thresholds, p.relative).to_csv(snakemake.output.counts, index=False)
scale_invariant.experiment_measures(p.probes, p.thresholds).to_csv(snakemake.output.scale_invariant, index=False)
