# The input functions and targets of the rules in ../rivals.smk (snakemake --lint wants
# functions apart from rules), beside them.


def rival_artifacts():
    """The rival measures of every run of the experiments that ask for them."""
    measured = [e for e, spec in config["experiments"].items() if spec["measure_rivals"]]
    runs = [run for experiment in measured for run in configuration.runs(config, experiment)]
    return [f"{RUN.format(**run)}/{name}" for run in runs for name in ("sharpness.json", "weight_spectra.csv")]
