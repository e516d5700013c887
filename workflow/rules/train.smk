# Training: one run per (experiment, dataset, batch size, seed), one GPU per job.


def run_settings(wildcards):
    """A run's settings in their stored form (``RunSettings.as_dict``): a training reruns when they change."""
    return settings.run_settings(
        config, wildcards.experiment, wildcards.dataset, wildcards.batch_size, wildcards.seed, SHAPES
    ).as_dict()


def model_source(wildcards):
    """The module file of the experiment's model when it is one of the config's own and lies under
    the working directory (an input of its trainings: editing it retrains); none for a built-in or
    an installed one (its version is in the runs' summaries)."""
    spec = config["models"].get(config["experiments"][wildcards.experiment]["model"])
    if not spec:
        return []
    source = user_code.module_file(spec["factory"].partition(":")[0])
    return [os.path.relpath(source)] if source else []


def snapshot_files(wildcards):
    """A run's snapshots, by epoch: the train rule's snapshots output, named for its script."""
    return {epoch: SNAPSHOT.format(epoch=epoch, **wildcards) for epoch in SNAPSHOT_EPOCHS}


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
