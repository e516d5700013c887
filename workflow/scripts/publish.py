"""Write one table's published folder from what the pipeline built under results/, then the
folder's README from every table published so far."""

from pathlib import Path

from rankgap import log_to, publish

log_to(snakemake.log[0])
i, p, config = snakemake.input, snakemake.params, snakemake.config
folder = Path(snakemake.output[0])
publish.publish_table(
    folder,
    snakemake.wildcards.table,
    config,
    table_files={"csv": i.table[0], "md": i.table[1]},
    figures={Path(png).stem: png for png in i.figures},
    summaries=[Path(s) for s in i.summaries],
    figure_counts={figure: (i.rankloss[0], threshold) for figure, threshold in p.figure_counts.items()},
    reference=i.reference,
    benchmarks={"train": i.train_benchmarks, "probe": i.probe_benchmarks, "spectra": i.spectra_benchmarks},
    repo=Path(snakemake.scriptdir).parents[1],
    command=p.command,
)
notes = config["publish"].get("notes")  # not an input: editing the notes republishes no table
publish.write_index(folder.parent, config, Path(notes).read_text() if notes else "", p.index_command, p.table_command)
