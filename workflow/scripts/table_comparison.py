"""One table beside the paper: its numbers, its trends and those of its experiment's figures, and
the losses the paper prints beside both kinds of ours."""

from pathlib import Path

import pandas as pd

from rankgap import log_to, paper

log_to(snakemake.log[0])
i, o, p = snakemake.input, snakemake.output, snakemake.params
table = snakemake.wildcards.table
reference = paper.reference_tables(i.reference)
rankloss, invariant = (Path(i[key]) if key in i.keys() else None for key in ("rankloss", "scale_invariant"))
numbers, claims = paper.compare(
    {table: i.table},
    {table: i.summaries},
    {figure: (rankloss, invariant, threshold) for figure, threshold in p.thresholds.items()},
    p.reported_loss,
    reference,
    datasets=[p.dataset],
)
numbers.to_csv(o.numbers, index=False)
claims.to_csv(o.trends, index=False)
paper.loss_evidence({table: pd.read_csv(i.table)}, reference).to_csv(o.losses, index=False)
