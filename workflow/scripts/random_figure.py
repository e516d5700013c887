"""One of the appendix's figures (A1-A3): the distributions of the singular values per matrix size."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # the rankgap package of this checkout
from rankgap import figures, log_to, randmat

log_to(snakemake.log[0])
p = snakemake.params
title = (f"Figure {snakemake.wildcards.appendix}: singular values of m × n random matrices with "
         f"{randmat.DISTRIBUTIONS[p.distribution][2]} entries, {p.repetitions} matrices per size "
         f"(rows: m; red ticks: each matrix's σmin, dashed: their mean)")
figures.save(figures.singular_value_panels(randmat.load(p.sizes, snakemake.input), title),
             snakemake.output.pdf, snakemake.output.png)
