"""Write the published reproduction's README from its tables' folders."""

from pathlib import Path

from rankgap import log_to, publish

log_to(snakemake.log[0])
i, p = snakemake.input, snakemake.params
publish.write_index(
    Path(snakemake.output[0]).parent,
    snakemake.config,
    Path(i.notes[0]).read_text() if i.notes else "",
    p.command,
    p.part_command,
)
