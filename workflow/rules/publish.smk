# Publishing: the small record of a reproduction that is committed (e.g. reproduction/fashion_mnist/),
# in two steps (workflow/rankgap/publication_layout.py). A part's data, `{folder}/{part}/data/` (a table of the
# paper or a remedy comparison), are copied from results/ by rule publish_table or
# publish_comparison, which train whatever they need: one part at a time, so that work too long for
# one sitting is published as it completes. The READMEs, the folder's and every part's, are rendered
# by rule publish from those data alone, through the templates of workflow/templates/ and the
# config's notes: `snakemake publish` rebuilds them on a clean clone and trains nothing.


include: "helpers/publish.smk"


rule publish_table:
    """A published part's data/: a table's runs, measures, weights and provenance copied under publish.folder."""
    input:
        unpack(publish_table_inputs),
    output:
        directory(PUBLISHED_DATA.format(part="{table}")),
    log:
        "results/logs/publish/{table}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        runs=lambda wc: published_runs(published_table_runs(wc.table)),
        code=code("publish_table"),
    script:
        "../scripts/publish_table.py"


rule publish_comparison:
    """A published remedy comparison's data/: its runs, weights and provenance copied under publish.folder."""
    input:
        unpack(publish_comparison_inputs),
    output:
        directory(PUBLISHED_DATA.format(part="{comparison}")),
    log:
        "results/logs/publish/{comparison}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        runs=lambda wc: published_runs(remedy_runs(wc.comparison)),
        code=code("publish_comparison"),
    script:
        "../scripts/publish_comparison.py"


rule publish_parts:
    """Every published part's data/ (tables and remedy comparisons) for the config's publish.folder."""
    input:
        lambda wc: [PUBLISHED_DATA.format(part=part) for part in published_parts()],


rule publish:
    """Every README under publish.folder, rendered from the committed data alone (trains nothing)."""
    input:
        unpack(readme_inputs),
    output:
        index=f"{PUBLISHED}/README.md",
        parts=[f"{PUBLISHED}/{part}/README.md" for part in published_on_disk()],
    log:
        f"{REPORT_LOGS}/publish_readmes.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        published=published_on_disk(),
        commands={"data": publish_command(PUBLISHED_DATA.format(part="<part>")), "readme": publish_command("publish")},
        code=code("publish_readmes"),
    script:
        "../scripts/publish_readmes.py"


rule tracking:
    """Which measure tracks the generalization gap, over every published run: correlations, answer, figures."""
    input:
        parts=lambda wc: [
            str(data / name) for data, _ in tracked_parts() for name in ("runs.csv", "measures.csv", "config.yaml")
        ],
        plan=ANALYSIS_PLAN,
    output:
        **TRACKING_OUTPUTS,
    log:
        f"{REPORT_LOGS}/tracking.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        parts=lambda wc: [[str(data), name] for data, name in tracked_parts()],
        code=code("tracking"),
    script:
        "../scripts/tracking.py"
