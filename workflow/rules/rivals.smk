# Rival explanations of the gap, on every run's final weights, for the experiments with
# measure_rivals: the sharpness of the training loss (Hessian) and the weights' spectra (WeightWatcher).


rule sharpness:
    input:
        weights=f"{RUN}/weights.pt",
        data=DATASET,
    output:
        f"{RUN}/sharpness.json",
    params:
        images=config["rivals"]["images"],
        seed=config["rivals"]["seed"],
        iterations=config["rivals"]["power_iterations"],
        tolerance=config["rivals"]["power_tolerance"],
        samples=config["rivals"]["trace_samples"],
        gpu=config["rivals"]["gpu"],
        code=code("sharpness"),
    threads: config["threads"]["analysis"]
    resources:
        gpu=int(config["rivals"]["gpu"]),
        mem_mb=job_resource("sharpness", "mem_mb"),
        runtime=job_resource("sharpness", "runtime"),
    conda:
        "../../envs/train.yaml"
    log:
        f"{RUN}/sharpness.log",
    benchmark:
        f"{RUN}/sharpness.benchmark.tsv"
    script:
        "../scripts/sharpness.py"


rule weight_spectra:
    input:
        f"{RUN}/weights.pt",
    output:
        f"{RUN}/weight_spectra.csv",
    params:
        code=code("weight_spectra"),
    threads: config["threads"]["analysis"]
    resources:
        mem_mb=job_resource("weight_spectra", "mem_mb"),
        runtime=job_resource("weight_spectra", "runtime"),
    conda:
        "../../envs/analysis.yaml"
    log:
        f"{RUN}/weight_spectra.log",
    benchmark:
        f"{RUN}/weight_spectra.benchmark.tsv"
    script:
        "../scripts/weight_spectra.py"
