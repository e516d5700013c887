# Rank-loss analysis: spectra per run (the SVDs, threshold-free), then counts per experiment.


rule spectra:
    input:
        PROBE + "/activations.safetensors",
    output:
        spectra=PROBE + "/spectra.csv",
        modes=PROBE + "/modes.csv",
    params:
        dtype=config["probe"]["dtype"],
        gpu=config["probe"]["gpu"],
        lock_dir=config["lock_dir"],
        code=code("rank"),
    threads: 4
    resources:
        gpu=int(config["probe"]["gpu"]),
    log:
        PROBE + "/spectra.log",
    script:
        "../scripts/spectra.py"


rule rankloss:
    input:
        spectra=lambda wc: [PROBE.format(**p) + "/spectra.csv" for p in probes(wc.experiment)],
        modes=lambda wc: [PROBE.format(**p) + "/modes.csv" for p in probes(wc.experiment)],
        summaries=lambda wc: [RUN.format(**p) + "/summary.json" for p in probes(wc.experiment)],
    output:
        ANALYSIS + "/rankloss.csv",
    params:
        probes=lambda wc: probes(wc.experiment),
        thresholds=config["analysis"]["thresholds"],
        code=code("rank"),
    log:
        "results/logs/rankloss/{experiment}.log",
    script:
        "../scripts/rankloss.py"
