"""Write one part's data folder (a table of the paper, or a remedy comparison) from what the pipeline
built under results/."""

from pathlib import Path

from rankgap import log_to, publish

log_to(snakemake.log[0])
i, p, config = snakemake.input, snakemake.params, snakemake.config
folder = Path(snakemake.output[0])
common = {
    "config": config,
    "runs": p.runs,
    "benchmarks": {key.removesuffix("_benchmarks"): paths for key, paths in i.items() if key.endswith("_benchmarks")},
    "repo": Path(snakemake.scriptdir).parents[1],
    "measures": list(i.measures),
}
if snakemake.rule == "publish_table":
    publish.publish_table(
        folder,
        snakemake.wildcards.table,
        table_files=[i.table_csv, i.table_md],
        comparison={key: i[key] for key in ("numbers", "trends", "losses")},
        figures={Path(png).stem: png for png in i.figures},
        **common,
    )
else:  # publish_comparison
    inputs_of_runs = {"summaries", "weights", "initial_weights", "records", "measures"}
    outputs = {
        key: Path(path) for key, path in i.items() if key not in inputs_of_runs and not key.endswith("_benchmarks")
    }
    publish.publish_comparison(folder, snakemake.wildcards.comparison, outputs=outputs, **common)
