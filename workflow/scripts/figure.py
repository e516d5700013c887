"""One figure: near-rank loss against batch size (the paper's) or against epoch."""

import pandas as pd

from rankgap import figures, log_to

log_to(snakemake.log[0])
plot = figures.PLOTS[snakemake.params.plot]
plot(
    pd.read_csv(snakemake.input[0]),
    snakemake.params.threshold,
    snakemake.params.probe,
    snakemake.params.caption,
    snakemake.output.pdf,
    snakemake.output.png,
)
