# Activation dumps: the probe batch through the weights of one probe epoch, every layer saved.


rule dump:
    input:
        weights=probe_weights,
        data=DATASET,
    output:
        f"{PROBE}/activations.safetensors",
    params:
        mode=config["probe"]["mode"],
        dtype=config["probe"]["dtype"],
        seed=config["probe"]["seed"],
        points=config["probe"]["points"],
        gpu=config["probe"]["gpu"],
        lock_dir=config["lock_dir"],
        code=code("activations", "models", "data"),
    threads: config["threads"]["train"]
    resources:
        gpu=int(config["probe"]["gpu"]),
        mem_mb=job_resource("dump", "mem_mb"),
        runtime=job_resource("dump", "runtime"),
    conda:
        "../../envs/train.yaml"
    log:
        f"{PROBE}/dump.log",
    script:
        "../scripts/dump.py"
