"""Which measure tracks the gap, over every run of a publication's parts (and of publish.compare_with)."""

from pathlib import Path

from rankgap import log_to, tracking

log_to(snakemake.log[0])
o = snakemake.output
parts = [tracking.published_measures(Path(data), name) for data, name in snakemake.params.parts]
figures = Path(o.png), Path(o.held_fixed_png)
tracking.write_answer([part for part in parts if part], Path(o.correlations), Path(o.answer), *figures, Path(o.runs))
