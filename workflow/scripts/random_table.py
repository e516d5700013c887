"""One of the appendix's tables (A1-A3): E sigma_min per matrix size."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # the rankgap package of this checkout
from rankgap import log_to, randmat, tables

log_to(snakemake.log[0])
p = snakemake.params
table = randmat.summary(randmat.load(p.sizes, snakemake.input), p.distribution)
caption = (f"Table {snakemake.wildcards.appendix}: expected minimum singular value of m × n random matrices with "
           f"{randmat.DISTRIBUTIONS[p.distribution][2]} entries (mean and std over {p.repetitions} matrices per size; "
           f"s = the entries' standard deviation)")
tables.write(table, snakemake.output.csv, snakemake.output.md, snakemake.output.tex, caption,
             tables.sigma_min_formatted(table))
