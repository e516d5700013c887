# Activation dumps: the probe batch through the weights of one probe epoch, every layer saved.


rule dump:
    input:
        weights=probe_weights,
        data=DATASET,
    output:
        # a dump is large (float64, batch x every layer: 0.4 GiB for LeNet-5 at batch 8192, GiBs for
        # VGG-16) and needed only by its spectra: deleted after them unless probe.keep_dumps
        DUMP if config["probe"]["keep_dumps"] else temp(DUMP),
    log:
        f"{PROBE}/dump.log",
    benchmark:
        f"{PROBE}/dump.benchmark.tsv"
    group:
        job_group("dump")
    conda:
        "../../envs/train.yaml"
    threads: config["threads"]["train"]
    resources:
        gpu=int(config["probe"]["gpu"]),
        mem_mb=job_resource("dump", "mem_mb"),
        runtime=job_resource("dump", "runtime"),
    params:
        mode=config["probe"]["mode"],
        dtype=config["probe"]["dtype"],
        seed=config["probe"]["seed"],
        points=config["probe"]["points"],
        gpu=config["probe"]["gpu"],
        code=code("dump"),
    script:
        "../scripts/dump.py"
