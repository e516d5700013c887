"""Near-rank-loss counts of every probe of an experiment at every threshold, in one tidy table, and
beside them every spectrum measure of the same spectra (measures.MEASURES), per layer and mode."""

from rankgap import log_to, measures, rankloss

log_to(snakemake.log[0])
p = snakemake.params
rankloss.experiment_counts(p.probes, p.thresholds, p.relative).to_csv(snakemake.output.counts, index=False)
measures.experiment_measures(p.probes, p.thresholds).to_csv(snakemake.output.measures, index=False)
