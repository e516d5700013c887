# The input functions and targets of the rules in ../data.smk (snakemake --lint wants
# functions apart from rules), beside them.


localrules:
    dataset,
    config_dataset,


def config_dataset_file(wildcards):
    """The file of one of the config's own datasets given as a file (replacing it reconverts); none
    for a folder or a torchvision class."""
    spec = config["datasets"][wildcards.dataset]
    return [spec["file"]] if "file" in spec else []
