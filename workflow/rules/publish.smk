# Publishing: the small record of a reproduction (tables, PNG figures, the comparison with the paper,
# provenance) that is committed, e.g. reproduction/fashion_mnist/, regenerated from results/.
# One folder per table or remedy comparison, so that work too long for one sitting is published a
# part at a time: `snakemake --configfile config/fashion_mnist.yaml reproduction/fashion_mnist/table5`.
# Each part's publication also rewrites the folder's README from the parts published so far;
# `snakemake --configfile config/fashion_mnist.yaml publish` publishes every part.


localrules:
    publish_table,
    publish_comparison,
    publish,


rule publish_table:
    input:
        unpack(publish_table_inputs),
    output:
        directory(f"{PUBLISHED}/{{table}}"),
    log:
        "results/logs/publish/{table}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        figure_counts=published_figure_counts,
        command=lambda wc: publish_command(f"{PUBLISHED}/{wc.table}"),
        index_command=publish_command("publish"),
        part_command=publish_command(f"{PUBLISHED}/<part>"),
        code=code("publish"),
    script:
        "../scripts/publish.py"


rule publish_comparison:
    input:
        unpack(publish_comparison_inputs),
    output:
        directory(f"{PUBLISHED}/{{comparison}}"),
    log:
        "results/logs/publish/{comparison}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        command=lambda wc: publish_command(f"{PUBLISHED}/{wc.comparison}"),
        index_command=publish_command("publish"),
        part_command=publish_command(f"{PUBLISHED}/<part>"),
        code=code("publish"),
    script:
        "../scripts/publish.py"


rule publish:
    input:
        unpack(publish_inputs),
    output:
        f"{PUBLISHED}/README.md",
    log:
        "results/logs/publish/index.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        command=publish_command("publish"),
        part_command=publish_command(f"{PUBLISHED}/<part>"),
        code=code("publish_index"),
    script:
        "../scripts/publish_index.py"
