"""What a cluster is asked for: each job's memory and runtime, and how short jobs share submissions.

Estimates, not measurements: every number below says where it comes from.  A job that runs out asks
for twice as much on its first retry, three times on its second (``attempt``).  The ``benchmark:``
files of the rules (``*.benchmark.tsv`` beside each run) record what the jobs really took, to
recalibrate these against (docs/clusters.md).
"""

from __future__ import annotations

import itertools
import math

from .registry import ACTIVATIONS, MODELS, SHAPES, Shape
from .settings import passes_per_epoch, training_options

# A model of the config's own is given the slowest built-in's epoch time: a guess, which a cluster's
# retries double if it is too short.
CUSTOM_MODEL_EPOCH_SECONDS = max(model.epoch_seconds for model in MODELS.values())
# The built-ins' epoch times are for 50,000 images at batch 128 and above; smaller batches take
# proportionally longer (launch-bound steps).
EPOCH_IMAGES, FASTEST_BATCH = 50_000, 128
# A probe's SVDs take about 20 s plus 13 s per GiB of float64 activations on this project's 2-core
# CPU: 23 s for LeNet-5 at batch 8192 (0.4 GiB), 75 s for VGG-16 at 2048 (4.2 GiB) (docs/speed.md).
# LeNet-5's probes (the activation dumps) took 5-20 s, so a probe is given the same estimate.
PROBE_SECONDS, PROBE_SECONDS_PER_GIB = 20, 13
# Seconds a job spends outside its work (Python, torch, the dataset), a generous guess.
STARTUP_SECONDS = 60
# A cluster is asked for this many times a job's estimated time (other cards and CPUs are slower).
RUNTIME_MARGIN = 3
# Memory every job gets before its data (Python, torch, CUDA's context), in MB; a training holds its
# whole dataset (at most 150 MB of uint8 images for CIFAR) and the model.
BASE_MB, TRAIN_MB = 2000, 4000
# Memory per MB of probed activations (all layers for a probe and a Hessian-vector product, the
# largest layer for the SVDs): generous guesses over the one copy each job must hold (a probe writes
# every layer, an SVD needs a workspace beside its matrix, a Hessian-vector product differentiates
# twice), to be recalibrated from the benchmark files.
PROBE_COPIES, SPECTRA_COPIES, HESSIAN_COPIES = 2.5, 3, 12
# The sharpness measure and the weight spectra run one model's worth of work: minutes asked for.
SHARPNESS_MINUTES, WEIGHT_SPECTRA_MINUTES = 120, 30
# Short jobs are grouped into submissions asking for at most this many minutes (see job_group).
SUBMISSION_MINUTES = 120
# The Snakemake group of each kind of short job, named after the model: a probe and its SVDs form one
# component of their group, so that its activations (a temporary file) are read where they were written.
GROUP_RULES = {"trainings": ("train",), "probes": ("probe", "spectra")}


def _runtime_request(seconds: float, attempt: int) -> int:
    """Minutes to ask for a job estimated at ``seconds``: the margin over it, startup included, and
    more on each retry."""
    return attempt * math.ceil(RUNTIME_MARGIN * (STARTUP_SECONDS + seconds) / 60)


def job_resources(
    config: dict,
    experiment: str,
    dataset: str,
    batch_size: int,
    attempt: int,
    shapes: dict[str, Shape] = SHAPES,
    activations: dict = ACTIVATIONS,
) -> dict:
    """Memory (MB) and runtime (minutes) to ask a cluster for, per kind of job (rule), times
    ``attempt``.  Training runtimes assume a GPU like an H100.  There is no minimum runtime: the
    requests of grouped jobs add up (job_group).  ``shapes`` and ``activations``: the registry's, with
    the config's own models and datasets measured (``config_entries.describe``)."""
    exp = config["experiments"][experiment]
    shape = shapes[dataset]
    try:
        total, largest = activations[(exp["model"], shape.size)]
    except KeyError:
        raise KeyError(
            f"no activation sizes for model {exp['model']} on {shape.size}x{shape.size} images: "
            f"a built-in pair belongs in registry.MODELS, a config's own is measured by "
            f"config_entries.describe"
        ) from None
    mb = 8 * batch_size / 1e6  # float64 megabytes per probed float and image
    options = training_options(config, experiment)
    passes = passes_per_epoch(
        shape.train, batch_size, options["drop_last"], options["regime_adaptation"], options["base_batch_size"]
    )
    model = MODELS.get(exp["model"])
    seconds = model.epoch_seconds if model else CUSTOM_MODEL_EPOCH_SECONDS
    epoch_seconds = passes * seconds * max(1, FASTEST_BATCH / batch_size) * shape.train / EPOCH_IMAGES
    probe_seconds = PROBE_SECONDS + PROBE_SECONDS_PER_GIB * 8 * batch_size * total / 2**30
    return {
        "train": {"mem_mb": TRAIN_MB * attempt, "runtime": _runtime_request(exp["epochs"] * epoch_seconds, attempt)},
        "probe": {
            "mem_mb": attempt * int(BASE_MB + PROBE_COPIES * total * mb),
            "runtime": _runtime_request(probe_seconds, attempt),
        },
        "spectra": {
            "mem_mb": attempt * int(BASE_MB + SPECTRA_COPIES * largest * mb),
            "runtime": _runtime_request(probe_seconds, attempt),
        },
        "sharpness": {
            "mem_mb": attempt * int(BASE_MB + HESSIAN_COPIES * total * config["rivals"]["hessian_chunk"] * 4 / 1e6),
            "runtime": SHARPNESS_MINUTES * attempt,
        },
        "weight_spectra": {"mem_mb": TRAIN_MB * attempt, "runtime": WEIGHT_SPECTRA_MINUTES * attempt},
    }


def job_group(config: dict, rule: str, experiment: str, dataset: str, batch_size: int, **known) -> str | None:
    """The Snakemake group of a job on a cluster (groups are ignored locally).  ``known``: the
    ``shapes`` and ``activations`` of ``job_resources``, for the config's own models and datasets."""
    kind = next(kind for kind, rules in GROUP_RULES.items() if rule in rules)
    return _group(config, kind, experiment, dataset, batch_size, **known)


def _group(config: dict, kind: str, experiment: str, dataset: str, batch_size: int, **known) -> str | None:
    """``{model}_trainings`` or ``{model}_probes`` when at least two components of this run fit in
    SUBMISSION_MINUTES, else None: a job long enough to be a submission of its own."""
    if 2 * _component_minutes(config, kind, experiment, dataset, batch_size, **known) > SUBMISSION_MINUTES:
        return None
    return f"{config['experiments'][experiment]['model']}_{kind}"


def _component_minutes(config: dict, kind: str, experiment: str, dataset: str, batch_size: int, **known) -> int:
    """The runtime first asked for one component of a group: a training, or a probe and its SVDs."""
    estimates = job_resources(config, experiment, dataset, batch_size, attempt=1, **known)
    return sum(estimates[rule]["runtime"] for rule in GROUP_RULES[kind])


def group_components(config: dict) -> dict[str, int]:
    """Group -> how many of its components one submission holds: as many of its longest as fit in
    SUBMISSION_MINUTES one after another (a group job asks for the sum of its members' runtimes when
    they run in series).  profiles/slurm/config.yaml holds these for config.yaml (a test checks)."""
    longest = {}
    for experiment, exp in config["experiments"].items():
        for dataset, batch_size, kind in itertools.product(exp["datasets"], exp["batch_sizes"], GROUP_RULES):
            group = _group(config, kind, experiment, dataset, batch_size)
            if group:
                minutes = _component_minutes(config, kind, experiment, dataset, batch_size)
                longest[group] = max(longest.get(group, 0), minutes)
    return {group: SUBMISSION_MINUTES // minutes for group, minutes in sorted(longest.items())}
