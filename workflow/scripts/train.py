"""Train one run on the device this job leases."""

from pathlib import Path

from rankgap import device, log_to, provenance, train
from rankgap.settings import RunSettings

log_to(snakemake.log[0])
p = snakemake.params
train.train(
    RunSettings.from_dict(p.settings),
    Path(snakemake.input.data),
    Path(snakemake.output.weights),
    Path(snakemake.output.metrics),
    Path(snakemake.output.summary),
    Path(p.checkpoint),
    snapshots={epoch: Path(path) for epoch, path in p.snapshots.items()},
    device=device.for_job(snakemake),
    checkout=Path(snakemake.scriptdir),
    published=provenance.publication(snakemake.config),
)
