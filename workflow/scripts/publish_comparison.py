"""Write one remedy comparison's published data folder from what the pipeline built under results/."""

from pathlib import Path

from rankgap import log_to, part_data

log_to(snakemake.log[0])
i = snakemake.input
inputs_of_runs = {"summaries", "weights", "initial_weights", "records", "measures"}
benchmarks = {key.removesuffix("_benchmarks"): paths for key, paths in i.items() if key.endswith("_benchmarks")}
part_data.publish_comparison(
    Path(snakemake.output[0]),
    snakemake.wildcards.comparison,
    config=snakemake.config,
    # the comparison's own outputs: every input but its runs' files and the benchmarks
    outputs={
        key: Path(path) for key, path in i.items() if key not in inputs_of_runs and not key.endswith("_benchmarks")
    },
    runs=snakemake.params.runs,
    benchmarks=benchmarks,
    repo=Path(snakemake.scriptdir).parents[1],
    measures=list(i.measures),
)
