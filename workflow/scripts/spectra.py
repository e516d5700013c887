"""Singular values of every layer and mode of one dump, and the record of the probe and of this job."""

import json
from pathlib import Path

import torch

from rankgap import device, log_to, provenance, svd

log_to(snakemake.log[0])
p = snakemake.params
leased = device.for_job(snakemake, want_gpu=p.gpu)
dump = Path(snakemake.input[0])
spectra, modes = svd.analyse(dump, leased, getattr(torch, p.dtype))  # probe.dtype: float64 or float32
spectra.to_csv(snakemake.output.spectra, index=False, float_format="%.17g")
modes.to_csv(snakemake.output.modes, index=False, float_format="%.17g")
record = {
    "probe": json.loads(svd.dump_metadata(dump).get("record", "{}")),
    "spectra": provenance.stage_record(
        Path(snakemake.scriptdir), provenance.publication(snakemake.config), device.gpu_name(leased)
    ),
}
Path(snakemake.output.record).write_text(json.dumps(record, indent=2) + "\n")
