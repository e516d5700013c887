# Datasets: downloaded on the head node (cluster nodes often have no internet), checksummed,
# converted once into the canonical file every other rule reads.


localrules:
    dataset,


rule dataset:
    output:
        DATASET,
    params:
        raw_dir=lambda wildcards, output: f"{os.path.dirname(output[0])}/raw/{wildcards.dataset}",
    # `mirror` and `sources` say where the raw files are, not what they are (they are checksummed):
    # the script reads them from the config, so that moving the files reruns nothing
    conda:
        "../../envs/train.yaml"
    log:
        "results/logs/dataset/{dataset}.log",
    script:
        "../scripts/dataset.py"
