"""Render every README of a publication from its parts' data (and the answer to which measure tracks the gap)."""

from pathlib import Path

from rankgap import code_hash, log_to, provenance, readmes

log_to(snakemake.log[0])
i = snakemake.input
templates = {kind: i[f"{kind}_template"] for kind in ("index", "table", "comparison", "remedy_comparison")}
workflow_dir = Path(snakemake.scriptdir).parent
script, package = workflow_dir / "scripts/publish_readmes.py", workflow_dir / "rankgap"
# the code that renders, in the checkout (the rule's template inputs may be Snakemake's cached copies):
# the templates and notes, this script, the modules it reaches, the analysis plan
rendering = [
    *(workflow_dir / "templates").rglob("*.j2"),
    script,
    *code_hash.modules_reached(script, package),
    package / "analysis_plan.yaml",
]
written = readmes.render_readmes(
    Path(snakemake.output.index).parent,
    snakemake.config,
    snakemake.params.published,
    templates,
    Path(i.notes[0]) if i.notes else None,
    snakemake.params.commands,
    rendered_by=provenance.last_change([Path(p) for p in rendering]),
    tracking=dict(zip(("answer", "correlations", "runs"), map(Path, i.tracking))) if i.tracking else None,
)
for path, text in written.items():
    path.write_text(text)
