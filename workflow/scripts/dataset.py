"""Download, verify and convert one dataset into its canonical file."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # the rankgap package of this checkout
from rankgap import data, log_to

log_to(snakemake.log[0])
dataset = snakemake.wildcards.dataset
data.prepare(dataset, snakemake.output[0], snakemake.params.raw_dir, snakemake.config["mirror"],
             folder=snakemake.config["sources"].get(dataset))
