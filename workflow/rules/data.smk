# Datasets: downloaded on the head node (cluster nodes often have no internet), checksummed,
# converted once into the canonical file every other rule reads.


localrules:
    dataset,


rule dataset:
    output:
        DATASET,
    params:
        data_dir=config["data_dir"],
        mirror=config["mirror"],
    log:
        "results/logs/dataset/{dataset}.log",
    script:
        "../scripts/dataset.py"
