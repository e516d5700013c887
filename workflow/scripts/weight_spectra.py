"""WeightWatcher's alpha and stable rank of every layer of one run's final weights, on the CPU in float64."""

import os

# Before torch is imported: WeightWatcher casts weights to float16 when it is imported where a GPU is visible
os.environ["CUDA_VISIBLE_DEVICES"] = ""
from pathlib import Path

from rankgap import log_to, weight_spectra

log_to(snakemake.log[0])
weight_spectra.of_weights(Path(snakemake.input[0]), Path(snakemake.output[0]))
