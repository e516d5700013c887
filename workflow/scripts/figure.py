"""One of the paper's figures: near-rank loss against batch size."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # the rankgap package of this checkout
import pandas as pd

from rankgap import figures, log_to

log_to(snakemake.log[0])
figures.near_rank_loss(pd.read_csv(snakemake.input[0]), snakemake.params.threshold, snakemake.params.caption,
                       snakemake.output.pdf, snakemake.output.png)
