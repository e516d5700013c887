"""One table beside the paper: its numbers, its claims and those of its experiment's figures, judged,
and the losses the paper prints beside both kinds of ours."""

import pandas as pd

from rankgap import log_to, paper, paper_comparison, paper_losses

log_to(snakemake.log[0])
i, o, p = snakemake.input, snakemake.output, snakemake.params
table = snakemake.wildcards.table
reference = paper.reference_tables(i.reference)
numbers, claims = paper_comparison.compare_with_paper(
    {table: i.table},
    {table: i.summaries},
    figures=p.thresholds,
    analysis={key: i[key] for key in ("counts", "measures")} if "counts" in i.keys() else None,
    probes=p.probes,
    reported_loss=p.reported_loss,
    reference=reference,
    datasets=[p.dataset],
    unswitched={table: list(i.unswitched)},
)
numbers.to_csv(o.numbers, index=False)
claims.to_csv(o.trends, index=False)
paper_losses.loss_evidence({table: pd.read_csv(i.table)}, reference).to_csv(o.losses, index=False)
