# The appendix (Tables A1-A3, Figures A1-A3): singular values of random matrices, one job per
# distribution and size; tables and figures read the saved spectra; the comparison puts the
# paper's values beside ours.


include: "helpers/random_matrices.smk"


rule random_spectra:
    """The appendix: singular values of random matrices of one distribution and size."""
    output:
        RANDOM_SPECTRA,
    log:
        "results/logs/random_matrices/{distribution}/{m}x{n}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: config["threads"]["analysis"]
    params:
        repetitions=RANDOM["repetitions"],
        seed=RANDOM["seed"],
        dtype=RANDOM["dtype"],
        method=RANDOM["method"],
        code=code("random_spectra"),
    script:
        "../scripts/random_spectra.py"


rule random_table:
    """The appendix: one of Tables A1-A3 (near-zero singular values of random matrices)."""
    input:
        lambda wc: random_spectra(wc.appendix),
    output:
        csv=report(
            f"{RANDOM_TABLE}.csv",
            caption="../report/random_table.rst",
            category="Appendix",
            labels={"table": "table{appendix}", "format": "csv"},
        ),
        md=f"{RANDOM_TABLE}.md",
        tex=f"{RANDOM_TABLE}.tex",
    log:
        "results/logs/tables/table{appendix}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        distribution=lookup(dpath="random_matrices/distributions/{appendix}", within=config),
        sizes=lambda wc: random_spectra_files(wc.appendix),
        repetitions=RANDOM["repetitions"],
        code=code("random_table"),
    script:
        "../scripts/random_table.py"


rule random_figure:
    """The appendix: one of Figures A1-A3."""
    input:
        lambda wc: random_spectra(wc.appendix),
    output:
        pdf=f"{RANDOM_FIGURE}.pdf",
        png=report(
            f"{RANDOM_FIGURE}.png",
            caption="../report/random_figure.rst",
            category="Appendix",
            labels={"figure": "fig{appendix}"},
        ),
    log:
        "results/logs/figures/fig{appendix}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        distribution=lookup(dpath="random_matrices/distributions/{appendix}", within=config),
        sizes=lambda wc: random_spectra_files(wc.appendix),
        repetitions=RANDOM["repetitions"],
        code=code("random_figure"),
    script:
        "../scripts/random_figure.py"


rule random_comparison:
    """The appendix's numbers beside the paper's."""
    input:
        tables=[f"{RANDOM_TABLE.format(appendix=a)}.csv" for a in RANDOM["distributions"]],
        reference=RANDOM_REFERENCE,
    output:
        csv=f"{RANDOM_COMPARISON}.csv",
        md=report(f"{RANDOM_COMPARISON}.md", caption="../report/random_comparison.rst", category="Appendix"),
    log:
        f"{REPORT_LOGS}/random_matrices_comparison.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        code=code("random_comparison"),
    script:
        "../scripts/random_comparison.py"
