# The input functions and targets of the rules in ../train.smk (snakemake --lint wants
# functions apart from rules), beside them.


def run_settings(wildcards):
    """A run's settings in their stored form (``RunSettings.as_dict``): a training reruns when they change."""
    return settings.run_settings(
        config, wildcards.experiment, wildcards.dataset, wildcards.batch_size, wildcards.seed, SHAPES
    ).as_dict()


def model_source(wildcards):
    """The module file of the experiment's model when it is one of the config's own and lies under
    the working directory (an input of its trainings: editing it retrains); none for a built-in or
    an installed one (its version is in the runs' summaries)."""
    spec = config["models"].get(config["experiments"][wildcards.experiment]["model"])
    if not spec:
        return []
    source = user_code.module_file(spec["factory"].partition(":")[0])
    return [os.path.relpath(source)] if source else []


def snapshot_files(wildcards):
    """A run's snapshots, by epoch: the train rule's snapshots output, named for its script."""
    return {epoch: SNAPSHOT.format(epoch=epoch, **wildcards) for epoch in SNAPSHOT_EPOCHS}
