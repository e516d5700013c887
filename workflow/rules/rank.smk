# Rank-loss analysis: spectra per probe (the SVDs, threshold-free), then counts per experiment, and
# beside them every measure of the same spectra, per layer and mode (measures.py).


include: "helpers/rank.smk"


rule spectra:
    """Singular values of every unfolding of every probed layer's activations (one probe, one epoch)."""
    input:
        PROBE_ACTIVATIONS,
    output:
        spectra=f"{PROBE}/spectra.csv",
        modes=f"{PROBE}/modes.csv",
        record=f"{PROBE}/record.json",
    log:
        f"{PROBE}/spectra.log",
    benchmark:
        f"{PROBE}/spectra.benchmark.tsv"
    group:
        job_group("spectra")
    conda:
        "../../envs/analysis.yaml"
    threads: config["threads"]["analysis"]
    resources:
        gpu=gpus(config["probe"]["gpu"]),
        mem_mb=job_resource("spectra", "mem_mb"),
        runtime=job_resource("spectra", "runtime"),
    params:
        dtype=config["probe"]["dtype"],
        gpu=config["probe"]["gpu"],
        code=code("spectra"),
    script:
        "../scripts/spectra.py"


rule rankloss:
    """An experiment's near-rank-loss counts and measures, every run, probe, epoch, layer and threshold."""
    input:
        probe_inputs,
    output:
        counts=f"{ANALYSIS}/rankloss.csv",
        measures=f"{ANALYSIS}/measures.csv",
    log:
        "results/logs/rankloss/{experiment}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        probes=lambda wc: job_files(probe_files(wc.experiment)),  # the files above, named, per probe
        thresholds=config["analysis"]["thresholds"],
        relative=config["analysis"]["relative"],
        code=code("rankloss"),
    script:
        "../scripts/rankloss.py"
