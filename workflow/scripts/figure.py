"""One figure: near-rank loss against batch size (the paper's), against epoch or in parts; or a
measure on the fixed probe against batch size."""

import pandas as pd

from rankgap import figures, log_to

log_to(snakemake.log[0])
data = pd.read_csv(snakemake.input[0])
params = snakemake.params
if params.plot == "measure":
    figures.measure_against_batch_size(
        data, params.measure, params.threshold, params.probe, params.caption, snakemake.output.pdf, snakemake.output.png
    )
else:
    figures.PLOTS[params.plot](
        data, params.threshold, params.probe, params.caption, snakemake.output.pdf, snakemake.output.png
    )
