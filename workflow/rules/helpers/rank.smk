# The input functions and targets of the rules in ../rank.smk (snakemake --lint wants
# functions apart from rules), beside them.


localrules:
    rankloss,


PROBE_FILES = ("spectra", "modes", "record")  # what the spectra rule writes per probe, read downstream


def probe_files(experiment):
    """Per probe of an experiment: its wildcards and its files (PROBE_FILES, its run's summary)."""
    return [
        {
            "wildcards": p,
            **{name: f"{PROBE.format(**p)}/{name}.{'json' if name == 'record' else 'csv'}" for name in PROBE_FILES},
            "summary": f"{RUN.format(**p)}/summary.json",
        }
        for p in probes(experiment)
    ]


def probe_inputs(wildcards):
    """The files of ``probe_files``, as a rule's input."""
    return [path for probe in probe_files(wildcards.experiment) for key, path in probe.items() if key != "wildcards"]
