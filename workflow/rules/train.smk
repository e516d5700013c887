# Training: one run per (experiment, dataset, batch size, seed), one GPU per job.


rule train:
    input:
        data=DATASET,
    output:
        weights=RUN + "/weights.pt",
        metrics=RUN + "/metrics.csv",
        summary=RUN + "/summary.json",
        snapshots=expand(RUN + "/snapshots/epoch{snapshot}.pt", snapshot=SNAPSHOT_EPOCHS, allow_missing=True),
    params:
        settings=run_settings,
        snapshot_epochs=SNAPSHOT_EPOCHS,
        checkpoint=RUN + "/checkpoint.pt",
        lock_dir=config["lock_dir"],
        code=code("train", "models", "data"),
    threads: 4
    resources:
        gpu=1,
    log:
        RUN + "/train.log",
    script:
        "../scripts/train.py"
