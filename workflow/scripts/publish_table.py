"""Write one table's published data folder from what the pipeline built under results/."""

from pathlib import Path

from rankgap import log_to, part_data

log_to(snakemake.log[0])
i = snakemake.input
part_data.publish_table(
    Path(snakemake.output[0]),
    snakemake.wildcards.table,
    config=snakemake.config,
    table_files=[i.table_csv, i.table_md],
    comparison={key: i[key] for key in ("numbers", "trends", "losses")},
    figures={Path(png).stem: png for png in i.figures},
    runs=snakemake.params.runs,
    benchmarks={key.removesuffix("_benchmarks"): paths for key, paths in i.items() if key.endswith("_benchmarks")},
    repo=Path(snakemake.scriptdir).parents[1],
    measures=list(i.measures),
)
