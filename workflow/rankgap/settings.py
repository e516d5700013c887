"""The config beyond its JSON schema: cross-references checked before any job runs, and the
settings of each run (the experiment's values over the ``train`` defaults).

The built-in datasets and models are known here without torch (``SHAPES``, ``EPOCH_SECONDS``); the
config's own entries (its ``models`` and ``datasets`` sections) are measured on the model and the
data when the config is read (``custom.describe``) and handed to the functions below as ``shapes``
and ``activations``.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Shape:
    """What the models and the config validation need to know before any data exists."""

    channels: int
    size: int
    classes: int
    train: int
    test: int


SHAPES = {
    "mnist": Shape(1, 28, 10, 60000, 10000),
    "fashion_mnist": Shape(1, 28, 10, 60000, 10000),
    "cifar10": Shape(3, 32, 10, 50000, 10000),
    "cifar100": Shape(3, 32, 100, 50000, 10000),
    "digits": Shape(1, 28, 10, 1437, 360),
}

# Floats per image of the probed activations (all layers, largest layer), for job memory estimates
# without importing torch, keyed by (model, image size); tests/test_paper_grid.py checks them
# against the models.  A pair not listed here (a custom model or dataset) is measured instead.
ACTIVATIONS = {
    ("lenet5", 28): (6_508, 4_704), ("lenet5", 32): (8_652, 6_144),
    ("vgg16", 32): (276_480, 65_536), ("resnet56", 32): (532_480, 16_384),
}
# Images per Hessian-vector product pass of the sharpness measure (sharpness.py): bounds its memory
# (the loss in eval mode is a sum over images, so the chunks add up to the same product).
HESSIAN_CHUNK = 1024
# Seconds per epoch of 50-60k images at batch 128 and above on an H100 (README), for job runtimes,
# per built-in model (models.MODELS builds them).  A custom model is given the slowest one's time:
# a guess, which a cluster's retries double if it is too short.
EPOCH_SECONDS = {"lenet5": 2, "vgg16": 4, "resnet56": 11}
BUILT_IN_MODELS = tuple(EPOCH_SECONDS)
# A probe's SVDs take about 20 s plus 13 s per GiB of float64 activations on this project's 2-core
# CPU: 23 s for LeNet-5 at batch 8192 (0.4 GiB), 75 s for VGG-16 at 2048 (4.2 GiB) (README, "Speed").
# LeNet-5's dumps took 5-20 s, so a dump is given the same estimate.
PROBE_SECONDS = (20, 13)
# Seconds a job spends outside its work (Python, torch, the dataset), a generous guess.
STARTUP_SECONDS = 60
# A cluster is asked for this many times a job's estimated time (other cards and CPUs are slower).
RUNTIME_MARGIN = 3
# Short jobs are grouped into submissions asking for at most this many minutes (see job_group).
SUBMISSION_MINUTES = 120
# The Snakemake group of each kind of short job, named after the model: a probe's dump and its SVDs
# form one component of their group, so that a dump (a temporary file) is read where it was written.
GROUP_RULES = {"trainings": ("train",), "probes": ("dump", "spectra")}


class ConfigError(ValueError):
    pass


BOUNDS = {"minimum": "at least", "exclusiveMinimum": "greater than", "maximum": "at most", "exclusiveMaximum": "less than"}


def _where(path) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return text or "the config's top level"


def _explain(error) -> str:
    """One line that names the key at fault and what would be right."""
    where, schema, value = _where(error.absolute_path), error.schema, error.instance
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        lines = []
        for key in sorted(set(value) - set(allowed)):
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            allowed_text = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
            lines.append(f"{where}: unknown key '{key}'{hint}{allowed_text}")
        return "\n".join(lines)
    if error.validator == "enum":
        return f"{where}: {value!r} is not allowed; allowed values: {', '.join(map(str, schema['enum']))}"
    if error.validator in BOUNDS:
        return f"{where}: {value!r} must be {BOUNDS[error.validator]} {error.validator_value}"
    if error.validator == "oneOf":
        keys = [key for branch in error.validator_value for key in branch.get("required", [])]
        return f"{where}: give exactly one of {', '.join(keys)}"
    return f"{where}: {error.message}"


def _custom_names(config: dict, section: str) -> list[str]:
    entries = config.get(section)
    return list(entries) if isinstance(entries, dict) else []  # not a mapping: the schema says so


def validate(config: dict, schema_path: str) -> None:
    """Check the config against its JSON schema and report every problem at once, readably.

    A model or dataset an experiment, table or comparison names must be a built-in one or one of
    the config's own (``models``, ``datasets``): the schema file cannot list the config's names, so
    they are added to its ``model`` and ``dataset`` definitions here."""
    import jsonschema  # only the Snakefile validates: jobs import this module without it
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text())
    schema["definitions"]["model"]["enum"] = [*BUILT_IN_MODELS, *_custom_names(config, "models")]
    schema["definitions"]["dataset"]["enum"] = [*SHAPES, *_custom_names(config, "datasets")]
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    problems = [_explain(e) for e in errors]
    # the config's own models and datasets must not take a built-in's name: which one would be meant?
    for section, built_in in (("models", BUILT_IN_MODELS), ("datasets", tuple(SHAPES))):
        problems += [f"{section}.{name}: '{name}' is a built-in {section[:-1]}; give yours another name "
                     f"(the built-ins: {', '.join(built_in)})" for name in _custom_names(config, section) if name in built_in]
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))


def check(config: dict, shapes: dict[str, Shape] = SHAPES) -> None:
    """Raise ConfigError naming the key at fault and what would be right.  ``shapes``: every
    dataset's (the built-ins' and the config's own, measured by ``custom.describe``)."""
    experiments = config["experiments"]
    thresholds = config["analysis"]["thresholds"]
    for name, exp in experiments.items():
        if exp["model"] in config["models"]:
            # the schema fills in variant: bn; anything else would be silently ignored
            for key, ignored in (("variant", exp["variant"] != "bn"), ("model_options", "model_options" in exp)):
                if ignored:
                    raise ConfigError(f"experiments.{name}.{key} applies to the built-in models only, and "
                                      f"{exp['model']} is one of the config's own: what it builds is set by "
                                      f"models.{exp['model']}.options")
        for dataset in exp["datasets"]:
            n_train = shapes[dataset].train
            sizes = list(exp["batch_sizes"]) + ([exp["switch"]["batch_size"]] if exp.get("switch") else [])
            too_big = [b for b in sizes if b > n_train]
            if too_big:
                raise ConfigError(
                    f"experiments.{name}: batch size(s) {too_big} exceed the {n_train} training images of "
                    f"'{dataset}'; use batch sizes of at most {n_train}")
        if exp.get("switch") and exp["switch"]["epoch"] >= exp["epochs"]:
            raise ConfigError(f"experiments.{name}.switch.epoch is {exp['switch']['epoch']}, but the run has only "
                              f"{exp['epochs']} epochs; use an epoch between 0 and {exp['epochs'] - 1}")
        late = [e for e in config["probe"]["epochs"] if e != "last" and e > exp["epochs"]]
        if late:
            raise ConfigError(f"probe.epochs {late} are beyond experiments.{name}.epochs ({exp['epochs']})")
    for kind in ("tables", "figures"):
        for name, spec in config.get(kind, {}).items():
            refs = [(spec["experiment"], spec.get("dataset"))]
            if "baseline" in spec:
                refs.append((spec["baseline"]["experiment"], spec.get("dataset")))
            for exp, dataset in refs:
                if exp not in experiments:
                    raise ConfigError(f"{kind}.{name}: unknown experiment '{exp}'; defined: {', '.join(experiments)}")
                if dataset and dataset not in experiments[exp]["datasets"]:
                    raise ConfigError(f"{kind}.{name}: experiment '{exp}' does not train on '{dataset}'; "
                                      f"it has {', '.join(experiments[exp]['datasets'])}")
            if "baseline" in spec and spec["baseline"]["batch_size"] not in experiments[spec["baseline"]["experiment"]]["batch_sizes"]:
                raise ConfigError(f"{kind}.{name}.baseline.batch_size {spec['baseline']['batch_size']} is not one of "
                                  f"experiment '{spec['baseline']['experiment']}''s batch sizes")
            if kind == "figures" and spec.get("plot") == "epoch" and len(config["probe"]["epochs"]) < 2:
                raise ConfigError(f"figures.{name} plots against epoch, but probe.epochs is {config['probe']['epochs']}; "
                                  "probe several epochs, e.g. [0, 1, 5, last]")
            if kind == "figures" and spec["threshold"] not in thresholds:
                raise ConfigError(f"figures.{name}.threshold {spec['threshold']} is not in analysis.thresholds "
                                  f"{thresholds}; add it there or pick one of them")
    _check_random_matrices(config)
    _check_remedies(config, shapes)
    _check_remedy_comparisons(config)


def _check_random_matrices(config: dict) -> None:
    random = config["random_matrices"]
    for i, row in enumerate(random["sizes"]):
        wide = [n for n in row["n"] if n > row["m"]]
        if wide:
            raise ConfigError(f"random_matrices.sizes[{i}]: n = {wide} larger than m = {row['m']}; give the tall "
                              f"orientation, n <= m (the transpose has the same singular values)")
    if random["method"] == "gram" and random["dtype"] != "float64":
        raise ConfigError(f"random_matrices.method gram needs dtype float64 (the Gram matrix squares the "
                          f"condition number; {random['dtype']} cannot resolve sigma_min): set dtype: float64 "
                          f"or method: svd")
    for key in random["distributions"]:
        for kind, name in (("tables", f"table{key}"), ("figures", f"fig{key}")):
            if name in config[kind]:
                raise ConfigError(f"random_matrices.distributions.{key} writes {name}, which {kind}.{name} writes "
                                  f"too; rename one of them")


# Remedies for the large-batch gap (training options, README "Remedies and rival measures"), at the
# values that switch them off: the schema's defaults (tests/test_remedies.py checks that they agree).
REMEDIES_OFF = {
    "ghost_batch_size": None,     # batch norm over the whole batch
    "lr_scaling": "none",         # the schedule as configured at every batch size
    "warmup_epochs": 0,
    "regime_adaptation": False,   # every batch size trains for `epochs` passes over the data
    "base_batch_size": 128,       # what lr_scaling and regime_adaptation are relative to
    "activation_noise": 0.0,
}


def _check_remedies(config: dict, shapes: dict[str, Shape]) -> None:
    for name, exp in config["experiments"].items():
        def value(key):
            return exp.get(key, config["train"][key])

        if value("warmup_epochs") and value("lr_scaling") == "none":
            raise ConfigError(f"experiments.{name}: warmup_epochs {value('warmup_epochs')} warms up to a scaled "
                              f"learning rate, but lr_scaling is 'none'; set lr_scaling (linear or sqrt) or "
                              f"warmup_epochs: 0")
        if value("warmup_epochs") >= exp["epochs"]:
            raise ConfigError(f"experiments.{name}: warmup_epochs {value('warmup_epochs')} is not shorter than the "
                              f"run's {exp['epochs']} epochs; use between 0 and {exp['epochs'] - 1}")
        if value("ghost_batch_size") and exp["variant"] == "nobn":
            raise ConfigError(f"experiments.{name}: ghost_batch_size needs batch norm, and variant nobn has none; "
                              f"use variant bn or linear, or ghost_batch_size: null")
        if exp.get("measure_rivals"):
            for dataset in exp["datasets"]:
                if config["rivals"]["images"] > shapes[dataset].train:
                    raise ConfigError(f"rivals.images {config['rivals']['images']} is more than the "
                                      f"{shapes[dataset].train} training images of '{dataset}' (experiment {name}); "
                                      f"use at most {shapes[dataset].train}")


def _check_remedy_comparisons(config: dict) -> None:
    experiments = config["experiments"]
    for name, spec in config["remedy_comparisons"].items():
        where = f"remedy_comparisons.{name}"
        compared = [spec["baseline"], *spec["remedies"]]
        unknown = [e for e in compared if e not in experiments]
        if unknown:
            raise ConfigError(f"{where}: unknown experiment(s) {', '.join(unknown)}; defined: {', '.join(experiments)}")
        sizes = sorted(experiments[spec["baseline"]]["batch_sizes"])
        if len(sizes) != 2:
            raise ConfigError(f"{where}: the baseline {spec['baseline']} has batch sizes {sizes}; a comparison "
                              f"needs exactly two, a small and a large one")
        for experiment in compared:
            exp = experiments[experiment]
            if sorted(exp["batch_sizes"]) != sizes:
                raise ConfigError(f"{where}: experiment {experiment} has batch sizes {sorted(exp['batch_sizes'])}, "
                                  f"the baseline {spec['baseline']} {sizes}; give every remedy the baseline's two")
            if spec["dataset"] not in exp["datasets"]:
                raise ConfigError(f"{where}: experiment {experiment} does not train on '{spec['dataset']}'")
            if not exp.get("measure_rivals"):
                raise ConfigError(f"{where}: experiment {experiment} does not measure the rivals; set "
                                  f"experiments.{experiment}.measure_rivals: true")
        if spec["threshold"] not in config["analysis"]["thresholds"]:
            raise ConfigError(f"{where}.threshold {spec['threshold']} is not in analysis.thresholds "
                              f"{config['analysis']['thresholds']}; add it there or pick one of them")


def run_settings(config: dict, experiment: str, dataset: str, batch_size: int, seed: int,
                 shapes: dict[str, Shape] = SHAPES) -> dict:
    """Everything that determines one training run, and nothing else (so that Snakemake reruns a
    training exactly when one of these changes).

    A remedy at its off value is left out: the settings of a run without remedies are exactly what
    they were before remedies existed (its summary, its checkpoint's resume check, its parameters).
    The same holds for the config's own models and datasets: only their runs' settings say what
    builds the model (``factory``, ``model_options``, ``layers``) and what the data is (``shape``,
    from ``shapes``), so that a weights file rebuilds its model without the config.
    """
    exp = config["experiments"][experiment]
    # the train section holds every training option (the schema fills in its defaults)
    values = {key: exp.get(key, default) for key, default in config["train"].items()}
    settings = {key: value for key, value in values.items() if key not in REMEDIES_OFF or value != REMEDIES_OFF[key]}
    custom_model = config.get("models", {}).get(exp["model"])
    if custom_model:
        settings.update(model=exp["model"], factory=custom_model["factory"], model_options=custom_model["options"])
        if "layers" in custom_model:
            settings["layers"] = custom_model["layers"]
    else:
        settings.update(model=exp["model"], variant=exp["variant"], model_options=exp.get("model_options", {}))
    settings.update(dataset=dataset, batch_size=int(batch_size), seed=int(seed), epochs=exp["epochs"],
                    weight_decay=exp["weight_decay"], switch=exp.get("switch"))
    if dataset not in SHAPES:
        settings["shape"] = dataclasses.asdict(shapes[dataset])
    return settings


def dataset_shape(settings: dict) -> Shape:
    """The image shape, classes and split sizes of a run's dataset: a built-in's from ``SHAPES``, the
    config's own from the run's settings."""
    return Shape(**settings["shape"]) if "shape" in settings else SHAPES[settings["dataset"]]


def remedies(settings: dict) -> dict:
    """Every remedy's value for a run: what its settings name, off for the rest."""
    return {key: settings.get(key, off) for key, off in REMEDIES_OFF.items()}


def steps_per_epoch(train_images: int, batch_size: int, drop_last: bool) -> int:
    return train_images // batch_size if drop_last else math.ceil(train_images / batch_size)


def passes_per_epoch(settings: dict, batch_size: int) -> int:
    """Passes over the training set that make one epoch of a run at ``batch_size``: one, or with
    regime adaptation (Hoffer et al. 2017) as many as it takes to make at least the steps an epoch
    at the base batch size makes.  Counting the extra passes inside the epoch keeps everything that
    is counted in epochs (the learning-rate schedule, warm-up, snapshots, the switch, ``last``) at
    the same step as in the base batch size's run; batches at or below the base take one pass."""
    remedy = remedies(settings)
    if not remedy["regime_adaptation"]:
        return 1
    n = dataset_shape(settings).train
    base = steps_per_epoch(n, remedy["base_batch_size"], settings["drop_last"])
    return max(1, math.ceil(base / steps_per_epoch(n, batch_size, settings["drop_last"])))


def runs(config: dict, experiment: str, datasets: list[str] | None = None) -> list[dict]:
    """The (dataset, batch_size, seed) of every run of an experiment, as wildcard dicts."""
    exp = config["experiments"][experiment]
    return [
        {"experiment": experiment, "dataset": d, "batch_size": b, "seed": s}
        for d in (datasets or exp["datasets"]) for b in exp["batch_sizes"] for s in config["seeds"]
    ]


def probe_epochs(config: dict, experiment: str) -> list[int]:
    """The epochs at which the experiment's runs are probed ('last' is the final epoch)."""
    last = config["experiments"][experiment]["epochs"]
    return sorted({last if e == "last" else int(e) for e in config["probe"]["epochs"]})


def _runtime_request(seconds: float, attempt: int) -> int:
    """Minutes to ask for a job estimated at ``seconds``: the margin over it, startup included, and
    more on each retry."""
    return attempt * math.ceil(RUNTIME_MARGIN * (STARTUP_SECONDS + seconds) / 60)


def job_resources(config: dict, experiment: str, dataset: str, batch_size: int, attempt: int,
                  shapes: dict[str, Shape] = SHAPES, activations: dict = ACTIVATIONS) -> dict:
    """Memory (MB) and runtime (minutes) to ask a cluster for, per kind of job; doubled, tripled...
    on each retry.  Training runtimes assume a GPU like an H100; small batches take longer.  There
    is no minimum runtime: the requests of grouped jobs add up (job_group).  ``shapes`` and
    ``activations``: ``SHAPES`` and ``ACTIVATIONS`` with the config's own models and datasets
    measured (``custom.describe``)."""
    exp = config["experiments"][experiment]
    shape = shapes[dataset]
    total, largest = activations.get((exp["model"], shape.size), ACTIVATIONS[("resnet56", 32)])
    mb = 8 * batch_size / 1e6  # float64 megabytes per probed float and image
    passes = passes_per_epoch({**config["train"], **exp, "dataset": dataset, "shape": dataclasses.asdict(shape)},
                              batch_size)
    seconds = EPOCH_SECONDS.get(exp["model"], max(EPOCH_SECONDS.values()))
    epoch_seconds = passes * seconds * max(1, 128 / batch_size) * shape.train / 50_000
    fixed, per_gib = PROBE_SECONDS
    probe_seconds = fixed + per_gib * 8 * batch_size * total / 2**30
    return {
        "train": {"mem_mb": 4000 * attempt, "runtime": _runtime_request(exp["epochs"] * epoch_seconds, attempt)},
        "dump": {"mem_mb": attempt * int(2000 + 2.5 * total * mb), "runtime": _runtime_request(probe_seconds, attempt)},
        "spectra": {"mem_mb": attempt * int(2000 + 3 * largest * mb), "runtime": _runtime_request(probe_seconds, attempt)},
        # a Hessian-vector product of HESSIAN_CHUNK float32 images keeps a few times their activations
        "sharpness": {"mem_mb": attempt * int(2000 + 12 * total * HESSIAN_CHUNK * 4 / 1e6), "runtime": 120 * attempt},
        "weight_spectra": {"mem_mb": 4000 * attempt, "runtime": 30 * attempt},
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
    """The runtime first asked for one component of a group: a training, or a probe's dump and SVDs."""
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
