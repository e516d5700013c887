# Datasets: downloaded on the head node (cluster nodes often have no internet), checksummed,
# converted once into the canonical file every other rule reads.  The config's own datasets (its
# `datasets` section) are converted by their own rule, from local files only.


include: "helpers/data.smk"


rule dataset:
    """A built-in dataset, downloaded (or found) and converted into one canonical safetensors file, checksummed."""
    output:
        DATASET,
    log:
        "results/logs/dataset/{dataset}.log",
    wildcard_constraints:
        dataset=_names(registry.SHAPES),
    # `mirror` and `sources` say where the raw files are, not what they are (they are checksummed):
    # the script reads them from the config, so that moving the files reruns nothing
    conda:
        "../../envs/train.yaml"
    params:
        raw_dir=lambda wildcards, output: f"{os.path.dirname(output[0])}/raw/{wildcards.dataset}",
    script:
        "../scripts/dataset.py"


rule config_dataset:
    """A config's own dataset (npz, image folder or torchvision class), converted into the canonical file."""
    input:
        config_dataset_file,
    output:
        DATASET,
    log:
        "results/logs/dataset/{dataset}.log",
    wildcard_constraints:
        dataset=_names(config["datasets"]),
    conda:
        "../../envs/train.yaml"
    params:
        # its entry in the config: changing where the data comes from reconverts it
        source=lookup(dpath="datasets/{dataset}", within=config),
    script:
        "../scripts/config_dataset.py"
