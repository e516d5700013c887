# The input functions and targets of the rules in ../remedies.smk (snakemake --lint wants
# functions apart from rules), beside them.


REMEDY_RUN_FILES = {"summary": "summary.json", "sharpness": "sharpness.json", "weight_spectra": "weight_spectra.csv"}


def remedy_run_files(comparison):
    """Per run of a comparison: its wildcards and its files (REMEDY_RUN_FILES)."""
    return [
        {"wildcards": run, **{key: f"{RUN.format(**run)}/{name}" for key, name in REMEDY_RUN_FILES.items()}}
        for run in remedy_runs(comparison)
    ]


def remedy_experiment_files(comparison):
    """Per experiment of a comparison: its rank-loss counts and its measures (per layer and mode)."""
    return {
        experiment: {name: f"{ANALYSIS.format(experiment=experiment)}/{name}.csv" for name in ("rankloss", "measures")}
        for experiment in compared(comparison)
    }


def remedy_inputs(wildcards):
    """The files of remedy_run_files and remedy_experiment_files, as a rule's input."""
    runs = [path for run in remedy_run_files(wildcards.comparison) for key, path in run.items() if key != "wildcards"]
    return runs + [path for files in remedy_experiment_files(wildcards.comparison).values() for path in files.values()]


localrules:
    remedy_comparison,
