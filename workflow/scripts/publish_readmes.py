"""Render every README of a publication from its parts' data."""

from pathlib import Path

from rankgap import log_to, publish

log_to(snakemake.log[0])
i = snakemake.input
written = publish.render(
    Path(snakemake.output.index).parent,
    snakemake.config,
    snakemake.params.published,
    {kind: i[f"{kind}_template"] for kind in ("index", "table", "comparison", "remedy_comparison")},
    Path(i.notes[0]) if i.notes else None,
    snakemake.params.commands,
)
for path, text in written.items():
    path.write_text(text)
