"""Write one part's data folder (a table of the paper, or a remedy comparison) from what the pipeline
built under results/."""

from pathlib import Path

from rankgap import log_to, publish

log_to(snakemake.log[0])
i, p, config = snakemake.input, snakemake.params, snakemake.config
folder = Path(snakemake.output[0])
common = {
    "config": config,
    "summaries": [Path(s) for s in i.summaries],
    "expected": p.settings,
    "benchmarks": {key.removesuffix("_benchmarks"): paths for key, paths in i.items() if key.endswith("_benchmarks")},
    "repo": Path(snakemake.scriptdir).parents[1],
}
if snakemake.rule == "publish_table":
    publish.publish_table(
        folder,
        snakemake.wildcards.table,
        table_files={"csv": i.table[0], "md": i.table[1]},
        comparison={"numbers": i.comparison[0], "trends": i.comparison[1], "losses": i.comparison[2]},
        figures={Path(png).stem: png for png in i.figures},
        runs=p.runs,
        **common,
    )
else:  # publish_comparison
    outputs = {key: Path(path) for key, path in i.items() if key != "summaries" and not key.endswith("_benchmarks")}
    publish.publish_comparison(folder, snakemake.wildcards.comparison, outputs=outputs, **common)
