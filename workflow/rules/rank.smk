# Rank-loss analysis: spectra per run (the SVDs, threshold-free), then counts per experiment.


localrules:
    rankloss,


rule spectra:
    input:
        DUMP,
    output:
        spectra=f"{PROBE}/spectra.csv",
        modes=f"{PROBE}/modes.csv",
    params:
        dtype=config["probe"]["dtype"],
        gpu=config["probe"]["gpu"],
        code=code("spectra"),
    threads: config["threads"]["analysis"]
    group: job_group("spectra")
    resources:
        gpu=int(config["probe"]["gpu"]),
        mem_mb=job_resource("spectra", "mem_mb"),
        runtime=job_resource("spectra", "runtime"),
    conda:
        "../../envs/analysis.yaml"
    log:
        f"{PROBE}/spectra.log",
    benchmark:
        f"{PROBE}/spectra.benchmark.tsv"
    script:
        "../scripts/spectra.py"


rule rankloss:
    input:
        spectra=lambda wc: [f"{PROBE.format(**p)}/spectra.csv" for p in probes(wc.experiment)],
        modes=lambda wc: [f"{PROBE.format(**p)}/modes.csv" for p in probes(wc.experiment)],
        summaries=lambda wc: [f"{RUN.format(**p)}/summary.json" for p in probes(wc.experiment)],
    output:
        f"{ANALYSIS}/rankloss.csv",
    params:
        probes=lambda wc: probes(wc.experiment),
        thresholds=config["analysis"]["thresholds"],
        relative=config["analysis"]["relative"],
        code=code("rankloss"),
    conda:
        "../../envs/analysis.yaml"
    log:
        "results/logs/rankloss/{experiment}.log",
    script:
        "../scripts/rankloss.py"
