"""Download, verify and convert one dataset into its canonical file."""
from rankgap import data, log_to

log_to(snakemake.log[0])
data.prepare(snakemake.wildcards.dataset, snakemake.output[0], snakemake.params.data_dir, snakemake.params.mirror)
