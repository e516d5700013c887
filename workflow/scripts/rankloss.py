"""Near-rank-loss counts of every run of an experiment at every threshold, in one tidy table."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # the rankgap package of this checkout
import json
from pathlib import Path

import pandas as pd

from rankgap import log_to, rank

log_to(snakemake.log[0])
tables = []
for probe, spectra, modes, summary in zip(snakemake.params.probes, snakemake.input.spectra, snakemake.input.modes,
                                          snakemake.input.summaries):
    status = json.loads(Path(summary).read_text())["status"]
    counts = rank.run_counts(pd.read_csv(spectra), pd.read_csv(modes), snakemake.params.thresholds,
                             snakemake.params.relative)
    if counts.empty:  # a run that did not finish has no spectra: one row keeps its status visible
        counts = pd.DataFrame([dict.fromkeys(counts.columns, float("nan"))])
    tables.append(counts.assign(**probe, status=status))
table = pd.concat(tables, ignore_index=True)
first = ["experiment", "dataset", "batch_size", "seed", "epoch", "status"]
table[first + [c for c in table.columns if c not in first]].to_csv(snakemake.output[0], index=False)
