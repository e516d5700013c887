"""Write one part's published folder (a table of the paper, or a remedy comparison) from what the
pipeline built under results/, then the folder's README from every part published so far."""

from pathlib import Path

from rankgap import log_to, publish

log_to(snakemake.log[0])
i, p, config = snakemake.input, snakemake.params, snakemake.config
folder = Path(snakemake.output[0])
common = {"config": config, "repo": Path(snakemake.scriptdir).parents[1], "command": p.command}
if snakemake.rule == "publish_table":
    publish.publish_table(
        folder,
        snakemake.wildcards.table,
        table_files={"csv": i.table[0], "md": i.table[1]},
        figures={Path(png).stem: png for png in i.figures},
        summaries=[Path(s) for s in i.summaries],
        figure_counts={figure: (i.rankloss[0], threshold) for figure, threshold in p.figure_counts.items()},
        reference=i.reference,
        benchmarks={"train": i.train_benchmarks, "probe": i.probe_benchmarks, "spectra": i.spectra_benchmarks},
        **common,
    )
else:  # publish_comparison
    publish.publish_comparison(
        folder,
        snakemake.wildcards.comparison,
        outputs={key: Path(path) for key, path in i.items() if key != "summaries" and not key.endswith("_benchmarks")},
        summaries=[Path(s) for s in i.summaries],
        benchmarks={key.removesuffix("_benchmarks"): paths for key, paths in i.items() if key.endswith("_benchmarks")},
        **common,
    )
notes = config["publish"].get("notes")  # not an input: editing the notes republishes no part
publish.write_index(folder.parent, config, Path(notes).read_text() if notes else "", p.index_command, p.part_command)
