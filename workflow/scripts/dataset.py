"""Download, verify and convert one dataset into its canonical file."""

from rankgap import data, log_to

log_to(snakemake.log[0])
dataset = snakemake.wildcards.dataset
data.prepare(
    dataset,
    snakemake.output[0],
    snakemake.params.raw_dir,
    snakemake.config["mirror"],
    folder=snakemake.config["sources"].get(dataset),
)
