"""Convert one of the config's own datasets (a file, a folder, a torchvision class) into its canonical file."""

from rankgap import config_dataset, log_to

log_to(snakemake.log[0])
config_dataset.prepare(snakemake.wildcards.dataset, snakemake.params.source, snakemake.output[0])
