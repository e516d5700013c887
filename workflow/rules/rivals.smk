# Rival explanations of the gap, on every run's final weights, for the experiments with
# measure_rivals: the sharpness of the training loss (Hessian) and the weights' spectra (WeightWatcher).


include: "helpers/rivals.smk"


rule sharpness:
    """A run's sharpness: the Hessian's largest eigenvalue and trace on a fixed set of training images."""
    input:
        weights=f"{RUN}/weights.pt",
        data=DATASET,
    output:
        f"{RUN}/sharpness.json",
    log:
        f"{RUN}/sharpness.log",
    benchmark:
        f"{RUN}/sharpness.benchmark.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["threads"]["analysis"]
    resources:
        gpu=gpus(config["rivals"]["gpu"]),
        mem_mb=job_resource("sharpness", "mem_mb"),
        runtime=job_resource("sharpness", "runtime"),
    params:
        images=config["rivals"]["images"],
        seed=config["rivals"]["seed"],
        iterations=config["rivals"]["power_iterations"],
        tolerance=config["rivals"]["power_tolerance"],
        samples=config["rivals"]["trace_samples"],
        chunk=config["rivals"]["hessian_chunk"],
        gpu=config["rivals"]["gpu"],
        code=code("sharpness"),
    script:
        "../scripts/sharpness.py"


rule weight_spectra:
    """A run's weight spectra (WeightWatcher's alpha and stable rank per layer)."""
    input:
        f"{RUN}/weights.pt",
    output:
        f"{RUN}/weight_spectra.csv",
    log:
        f"{RUN}/weight_spectra.log",
    benchmark:
        f"{RUN}/weight_spectra.benchmark.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: config["threads"]["analysis"]
    resources:
        mem_mb=job_resource("weight_spectra", "mem_mb"),
        runtime=job_resource("weight_spectra", "runtime"),
    params:
        code=code("weight_spectra"),
    script:
        "../scripts/weight_spectra.py"
