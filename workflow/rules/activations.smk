# Activation dumps: the probe batch through the weights of one probe epoch, every layer saved.


def probe_weights(wildcards):
    last = config["experiments"][wildcards.experiment]["epochs"]
    name = "weights.pt" if int(wildcards.epoch) == last else f"snapshots/epoch{wildcards.epoch}.pt"
    return RUN.format(**wildcards) + "/" + name


rule dump:
    input:
        weights=probe_weights,
        data=DATASET,
    output:
        PROBE + "/activations.safetensors",
    params:
        mode=config["probe"]["mode"],
        dtype=config["probe"]["dtype"],
        seed=config["probe"]["seed"],
        gpu=config["probe"]["gpu"],
        lock_dir=config["lock_dir"],
        code=code("activations", "models", "data"),
    threads: 4
    resources:
        gpu=int(config["probe"]["gpu"]),
    log:
        PROBE + "/dump.log",
    script:
        "../scripts/dump.py"
