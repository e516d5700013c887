"""Write the published reproduction folder from what the pipeline built under results/."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # the rankgap package of this checkout
from pathlib import Path

from rankgap import log_to, publish

log_to(snakemake.log[0])
i = snakemake.input
config = snakemake.config
publish.publish(
    Path(snakemake.output[0]), config,
    table_files={name: {"csv": csv, "md": md} for name, csv, md in zip(config["tables"], i.table_csvs, i.table_mds)},
    figures=dict(zip(config["figures"], i.figures)),
    comparison={"md": i.comparison[0], "csv": i.comparison[1], "trends": i.comparison[2]}, reference=i.reference,
    summaries=[Path(p) for p in i.summaries],
    benchmarks={"train": i.train_benchmarks, "dump": i.dump_benchmarks, "spectra": i.spectra_benchmarks},
    notes=i.notes[0] if i.notes else None,
    repo=Path(snakemake.scriptdir).parents[1], command=snakemake.params.command,
)
