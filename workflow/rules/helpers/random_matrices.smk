# The input functions and targets of the rules in ../random_matrices.smk (snakemake --lint wants
# functions apart from rules), beside them.


def random_matrix_artifacts():
    """Tables and figures A1-A3 and the comparison with the paper (none when no distribution is configured)."""
    keys = RANDOM["distributions"]
    tables = [path for a in keys for path in multiext(RANDOM_TABLE.format(appendix=a), ".csv", ".md", ".tex")]
    figures = [path for a in keys for path in multiext(RANDOM_FIGURE.format(appendix=a), ".pdf", ".png")]
    comparison = [f"{RANDOM_COMPARISON}{ext}" for ext in (".md", ".csv")] if keys else []
    return tables + figures + comparison


def random_spectra_files(appendix):
    """Per matrix size of an appendix table: its m and n and its spectra file."""
    distribution = RANDOM["distributions"][appendix]
    return [
        {"m": m, "n": n, "spectra": RANDOM_SPECTRA.format(distribution=distribution, m=m, n=n)} for m, n in RANDOM_SIZES
    ]


def random_spectra(appendix):
    """The spectra files of ``random_spectra_files``, as a rule's input."""
    return [size["spectra"] for size in random_spectra_files(appendix)]
