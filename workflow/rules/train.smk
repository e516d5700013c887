# Training: one run per (experiment, dataset, batch size, seed), one GPU per job.


include: "helpers/train.smk"


rule train:
    """One training run (experiment, dataset, batch size, seed): weights, metrics, summary; resumes after a kill."""
    input:
        data=DATASET,
        model=model_source,
    output:
        weights=f"{RUN}/weights.pt",
        metrics=f"{RUN}/metrics.csv",
        summary=f"{RUN}/summary.json",
        snapshots=expand(SNAPSHOT, epoch=SNAPSHOT_EPOCHS, allow_missing=True),
    log:
        f"{RUN}/train.log",
    benchmark:
        f"{RUN}/train.benchmark.tsv"
    group:
        job_group("train")
    conda:
        "../../envs/train.yaml"
    threads: config["threads"]["train"]
    resources:
        gpu=gpus(),
        mem_mb=job_resource("train", "mem_mb"),
        runtime=job_resource("train", "runtime"),
    params:
        settings=run_settings,
        # paths the script writes (job_path: as in its output where that is in remote storage)
        snapshots=lambda wildcards: {epoch: job_path(path) for epoch, path in snapshot_files(wildcards).items()},
        checkpoint=lambda wildcards: job_path(f"{RUN}/checkpoint.pt".format(**wildcards)),
        code=code("train"),
    script:
        "../scripts/train.py"
