# The probe: a probe's images (the paper's probe batch, or a fixed probe) through the weights of one
# probe epoch, every probed layer's activations saved.


include: "helpers/probe.smk"


rule probe:
    """One run's activations on one probe (its batch, or the fixed train/test images) at one epoch, every probed layer."""
    input:
        weights=probe_weights,
        data=DATASET,
    output:
        # a dump is large (float64, batch x every layer: 0.4 GiB for LeNet-5 at batch 8192, GiBs for
        # VGG-16) and needed only by its spectra: deleted after them unless probe.keep_dumps
        PROBE_ACTIVATIONS if config["probe"]["keep_dumps"] else temp(PROBE_ACTIVATIONS),
    log:
        f"{PROBE}/probe.log",
    benchmark:
        f"{PROBE}/probe.benchmark.tsv"
    group:
        job_group("probe")
    conda:
        "../../envs/train.yaml"
    threads: config["threads"]["train"]
    resources:
        gpu=gpus(config["probe"]["gpu"]),
        mem_mb=job_resource("probe", "mem_mb"),
        runtime=job_resource("probe", "runtime"),
    params:
        mode=config["probe"]["mode"],
        dtype=config["probe"]["dtype"],
        images=lambda wc: configuration.probe_images(config, wc.probe, wc.batch_size),
        seed=config["probe"]["seed"],
        points=config["probe"]["points"],
        gpu=config["probe"]["gpu"],
        code=code("probe"),
    script:
        "../scripts/probe.py"
