# The input functions and targets of the rules in ../probe.smk (snakemake --lint wants
# functions apart from rules), beside them.


def probe_weights(wildcards):
    """The weights a probe epoch reads: the final ones, or a snapshot taken during training."""
    last = config["experiments"][wildcards.experiment]["epochs"]
    return (f"{RUN}/weights.pt" if int(wildcards.epoch) == last else SNAPSHOT).format(**wildcards)
