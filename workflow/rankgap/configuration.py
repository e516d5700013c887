"""A config: checked, filled in, and the runs and probes it asks for.

``fill`` checks a config against workflow/schemas/config.schema.yaml, reporting every problem at
once (``validate``), and fills in the schema's defaults, the one home of every default; ``check``
checks what a schema cannot (cross-references, batch sizes against the data).
``runs`` and ``probe_epochs`` plan an experiment's runs and probes; one run's settings are
settings.py's (``run_settings``).  Only the Snakefile and the command line read this module: no
job's code reaches it, so editing a check or its message reruns nothing (docs/reruns.md).

Torch-free, so that Snakemake parses the workflow fast.  The built-in models and datasets come from
``registry``; the config's own (its ``models`` and ``datasets`` sections) are measured on the model
and the data when the config is read (``config_entries.describe``) and handed to the functions below as
``shapes``.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from .registry import DOWNLOADED, MODELS, SHAPES, VARIANTS, Shape
from .settings import SCHEMA, training_options

LAST = "last"  # in probe.epochs: the run's final epoch, whatever the experiment's number of epochs


class ConfigError(ValueError):
    pass


BOUNDS = {
    "minimum": "at least",
    "exclusiveMinimum": "greater than",
    "maximum": "at most",
    "exclusiveMaximum": "less than",
}


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
    if error.validator == "required":  # with what the missing key is, from its description
        key = error.message.split("'")[1]
        described = " ".join(schema.get("properties", {}).get(key, {}).get("description", "").split())
        first_sentence = re.split(r"(?<=\S)\.\s+(?=[A-Z])", described)[0].rstrip(".")
        return f"{where}: {error.message}" + (f": {first_sentence}" if described else "")
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
    schema["definitions"]["model"]["enum"] = [*MODELS, *_custom_names(config, "models")]
    schema["definitions"]["dataset"]["enum"] = [*SHAPES, *_custom_names(config, "datasets")]
    schema["definitions"]["variant"]["enum"] = list(VARIANTS)
    sources = {name: {"type": "string"} for name in DOWNLOADED}
    schema["properties"]["sources"].update(properties=sources, additionalProperties=False)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    problems = [_explain(e) for e in errors]
    # the config's own models and datasets must not take a built-in's name: which one would be meant?
    for section, built_in in (("models", MODELS), ("datasets", SHAPES)):
        problems += [
            f"{section}.{name}: '{name}' is a built-in {section[:-1]}; give yours another name "
            f"(the built-ins: {', '.join(built_in)})"
            for name in _custom_names(config, section)
            if name in built_in
        ]
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))


def check(config: dict, shapes: dict[str, Shape] = SHAPES) -> None:
    """Raise ConfigError naming the key at fault and what would be right.  ``shapes``: every
    dataset's (the built-ins' and the config's own, measured by ``config_entries.describe``)."""
    experiments = config["experiments"]
    for name, exp in experiments.items():
        if exp["model"] in config["models"]:
            # the schema fills in variant: bn; anything else would be silently ignored
            for key, ignored in (("variant", exp["variant"] != "bn"), ("model_options", "model_options" in exp)):
                if ignored:
                    raise ConfigError(
                        f"experiments.{name}.{key} applies to the built-in models only, and "
                        f"{exp['model']} is one of the config's own: what it builds is set by "
                        f"models.{exp['model']}.options"
                    )
        for dataset in exp["datasets"]:
            n_train = shapes[dataset].train
            sizes = list(exp["batch_sizes"]) + ([exp["switch"]["batch_size"]] if exp.get("switch") else [])
            too_big = [b for b in sizes if b > n_train]
            if too_big:
                raise ConfigError(
                    f"experiments.{name}: batch size(s) {too_big} exceed the {n_train} training images of "
                    f"'{dataset}'; use batch sizes of at most {n_train}"
                )
        if exp.get("switch") and exp["switch"]["epoch"] >= exp["epochs"]:
            raise ConfigError(
                f"experiments.{name}.switch.epoch is {exp['switch']['epoch']}, but the run has only "
                f"{exp['epochs']} epochs; use an epoch between 0 and {exp['epochs'] - 1}"
            )
        late = [e for e in snapshot_epochs(config) if e > exp["epochs"]]
        if late:
            raise ConfigError(f"probe.epochs {late} are beyond experiments.{name}.epochs ({exp['epochs']})")
        for dataset in exp["datasets"]:
            _check_fixed_probe(config, dataset, shapes[dataset])
    for kind in ("tables", "figures"):
        for name, spec in config.get(kind, {}).items():
            refs = [(spec["experiment"], spec.get("dataset"))]
            if "baseline" in spec:
                refs.append((spec["baseline"]["experiment"], spec.get("dataset")))
            for exp, dataset in refs:
                if exp not in experiments:
                    raise ConfigError(f"{kind}.{name}: unknown experiment '{exp}'; defined: {', '.join(experiments)}")
                if dataset and dataset not in experiments[exp]["datasets"]:
                    raise ConfigError(
                        f"{kind}.{name}: experiment '{exp}' does not train on '{dataset}'; "
                        f"it has {', '.join(experiments[exp]['datasets'])}"
                    )
            if (
                "baseline" in spec
                and spec["baseline"]["batch_size"] not in experiments[spec["baseline"]["experiment"]]["batch_sizes"]
            ):
                raise ConfigError(
                    f"{kind}.{name}.baseline.batch_size {spec['baseline']['batch_size']} is not one of "
                    f"experiment '{spec['baseline']['experiment']}''s batch sizes"
                )
            if kind == "figures" and spec.get("plot") == "epoch" and len(config["probe"]["epochs"]) < 2:
                raise ConfigError(
                    f"figures.{name} plots against epoch, but probe.epochs is {config['probe']['epochs']}; "
                    "probe several epochs, e.g. [0, 1, 5, last]"
                )
            if kind == "figures":
                _check_figure(config, name, spec)
    _check_random_matrices(config)
    _check_remedies(config, shapes)
    _check_remedy_comparisons(config)


# the spectrum measures without a threshold (measures.py's MEASURES; tests/test_measures.py checks)
THRESHOLD_FREE_MEASURES = ("effective_rank", "effective_rank_fraction")


def _check_figure(config: dict, name: str, spec: dict) -> None:
    """A figure's threshold and measure: what its plot needs, nothing it would ignore."""
    thresholds = config["analysis"]["thresholds"]
    if spec["plot"] == "measure":
        if "measure" not in spec:
            raise ConfigError(f"figures.{name} plots a measure: give figures.{name}.measure (the schema lists them)")
        if not config["probe"]["fixed_splits"]:
            raise ConfigError(
                f"figures.{name} plots {spec['measure']} on the fixed probe, but probe.fixed_splits is empty; "
                "give it one, e.g. [train]"
            )
        needs_threshold = spec["measure"] not in THRESHOLD_FREE_MEASURES
    elif "measure" in spec:
        raise ConfigError(f"figures.{name}.measure applies to plot: measure only; leave it out or set plot: measure")
    else:
        needs_threshold = True
    if needs_threshold and "threshold" not in spec:
        raise ConfigError(f"figures.{name} needs a threshold: one of analysis.thresholds {thresholds}")
    if not needs_threshold and "threshold" in spec:
        raise ConfigError(
            f"figures.{name}.measure {spec['measure']} has no threshold: leave out figures.{name}.threshold"
        )
    if needs_threshold and spec["threshold"] not in thresholds:
        raise ConfigError(
            f"figures.{name}.threshold {spec['threshold']} is not in analysis.thresholds "
            f"{thresholds}; add it there or pick one of them"
        )


def _check_fixed_probe(config: dict, dataset: str, shape: Shape) -> None:
    size = config["probe"]["fixed_size"]
    for split in config["probe"]["fixed_splits"]:
        images = getattr(shape, split)
        if size > images:
            raise ConfigError(
                f"probe.fixed_size {size} is larger than the {images} {split} images of '{dataset}'; "
                f"use at most {images}, or leave '{split}' out of probe.fixed_splits"
            )


def _check_random_matrices(config: dict) -> None:
    random = config["random_matrices"]
    for i, row in enumerate(random["sizes"]):
        wide = [n for n in row["n"] if n > row["m"]]
        if wide:
            raise ConfigError(
                f"random_matrices.sizes[{i}]: n = {wide} larger than m = {row['m']}; give the tall "
                f"orientation, n <= m (the transpose has the same singular values)"
            )
    if random["method"] == "gram" and random["dtype"] != "float64":
        raise ConfigError(
            f"random_matrices.method gram needs dtype float64 (the Gram matrix squares the "
            f"condition number; {random['dtype']} cannot resolve sigma_min): set dtype: float64 "
            f"or method: svd"
        )
    for key in random["distributions"]:
        for kind, name in (("tables", f"table{key}"), ("figures", f"fig{key}")):
            if name in config[kind]:
                raise ConfigError(
                    f"random_matrices.distributions.{key} writes {name}, which {kind}.{name} writes "
                    f"too; rename one of them"
                )


def _check_remedies(config: dict, shapes: dict[str, Shape]) -> None:
    for name, exp in config["experiments"].items():
        options = training_options(config, name)
        if options["warmup_epochs"] and options["lr_scaling"] == "none":
            raise ConfigError(
                f"experiments.{name}: warmup_epochs {options['warmup_epochs']} warms up to a scaled "
                f"learning rate, but lr_scaling is 'none'; set lr_scaling (linear or sqrt) or "
                f"warmup_epochs: 0"
            )
        if options["warmup_epochs"] >= exp["epochs"]:
            raise ConfigError(
                f"experiments.{name}: warmup_epochs {options['warmup_epochs']} is not shorter than the "
                f"run's {exp['epochs']} epochs; use between 0 and {exp['epochs'] - 1}"
            )
        if options["ghost_batch_size"] and exp["variant"] == "nobn":
            raise ConfigError(
                f"experiments.{name}: ghost_batch_size needs batch norm, and variant nobn has none; "
                f"use variant bn or linear, or ghost_batch_size: null"
            )
        if exp.get("measure_rivals"):
            for dataset in exp["datasets"]:
                if config["rivals"]["images"] > shapes[dataset].train:
                    raise ConfigError(
                        f"rivals.images {config['rivals']['images']} is more than the "
                        f"{shapes[dataset].train} training images of '{dataset}' (experiment {name}); "
                        f"use at most {shapes[dataset].train}"
                    )


def _check_remedy_comparisons(config: dict) -> None:
    experiments = config["experiments"]
    if config["remedy_comparisons"] and not config["probe"]["fixed_splits"]:
        raise ConfigError(
            "remedy_comparisons compare measures across batch sizes on the fixed probe, but probe.fixed_splits "
            "is empty; give it a split, e.g. [train]"
        )
    for name, spec in config["remedy_comparisons"].items():
        where = f"remedy_comparisons.{name}"
        compared = [spec["baseline"], *spec["remedies"]]
        unknown = [e for e in compared if e not in experiments]
        if unknown:
            raise ConfigError(f"{where}: unknown experiment(s) {', '.join(unknown)}; defined: {', '.join(experiments)}")
        sizes = sorted(experiments[spec["baseline"]]["batch_sizes"])
        if len(sizes) != 2:
            raise ConfigError(
                f"{where}: the baseline {spec['baseline']} has batch sizes {sizes}; a comparison "
                f"needs exactly two, a small and a large one"
            )
        for experiment in compared:
            exp = experiments[experiment]
            if sorted(exp["batch_sizes"]) != sizes:
                raise ConfigError(
                    f"{where}: experiment {experiment} has batch sizes {sorted(exp['batch_sizes'])}, "
                    f"the baseline {spec['baseline']} {sizes}; give every remedy the baseline's two"
                )
            if spec["dataset"] not in exp["datasets"]:
                raise ConfigError(f"{where}: experiment {experiment} does not train on '{spec['dataset']}'")
            if not exp.get("measure_rivals"):
                raise ConfigError(
                    f"{where}: experiment {experiment} does not measure the rivals; set "
                    f"experiments.{experiment}.measure_rivals: true"
                )
        if spec["threshold"] not in config["analysis"]["thresholds"]:
            raise ConfigError(
                f"{where}.threshold {spec['threshold']} is not in analysis.thresholds "
                f"{config['analysis']['thresholds']}; add it there or pick one of them"
            )


def fill(config: dict, schema: str | Path = SCHEMA) -> dict:
    """Check a config against the schema, every problem at once (``validate``), then fill in the
    schema's defaults where it is silent: the config every rule and function reads."""
    from snakemake.utils import validate as fill_defaults

    validate(config, str(schema))
    fill_defaults(config, str(schema), set_default=True)
    _fill_captions(config)
    return config


def _fill_captions(config: dict) -> None:
    """Every table, figure and remedy comparison with a caption: its own, or one made from its name
    (a default the schema cannot give: it depends on the entry), read by the rules and the READMEs."""
    for kind in ("tables", "figures"):
        for name, spec in config[kind].items():
            spec.setdefault("caption", f"{name}: experiment {spec['experiment']}")
    for name, spec in config["remedy_comparisons"].items():
        spec.setdefault("caption", f"Remedies for the large-batch gap: {name}")


def read(path: str | Path) -> dict:
    """A config file as the Snakefile sees it (``fill``)."""
    import yaml

    return fill(yaml.safe_load(Path(path).read_text()))


def runs(config: dict, experiment: str, datasets: list[str] | None = None) -> list[dict]:
    """The (dataset, batch_size, seed) of every run of an experiment, as wildcard dicts: its own
    seeds, or the config's."""
    exp = config["experiments"][experiment]
    return [
        {"experiment": experiment, "dataset": d, "batch_size": b, "seed": s}
        for d in (datasets or exp["datasets"])
        for b in exp["batch_sizes"]
        for s in exp.get("seeds", config["seeds"])
    ]


def snapshot_epochs(config: dict) -> list[int]:
    """The probe epochs other than ``last``: weight snapshots a training run writes as it goes."""
    return sorted({int(e) for e in config["probe"]["epochs"] if e != LAST})


BATCH_PROBE = "batch"  # the paper's probe: a batch of the run's own batch size, from the training set


def probe_kinds(config: dict, experiment: str | None = None) -> list[str]:
    """The probes of every run and probe epoch of ``experiment`` (default: of any experiment): the
    paper's probe batch (``batch``) when a figure plots the experiment's count (the paper's figures
    count on it; nothing else does), then the fixed probe of each split of ``probe.fixed_splits``."""
    plotted = {spec["experiment"] for spec in config["figures"].values() if spec["plot"] != "measure"}
    batch = [BATCH_PROBE] if experiment is None or experiment in plotted else []
    return [*batch, *config["probe"]["fixed_splits"]]


def probe_images(config: dict, probe: str, batch_size: int) -> int:
    """The number of images a probe takes: the run's batch size for the paper's probe batch,
    ``probe.fixed_size`` for a fixed probe."""
    return int(batch_size) if probe == BATCH_PROBE else config["probe"]["fixed_size"]


def probe_epochs(config: dict, experiment: str) -> list[int]:
    """The epochs at which the experiment's runs are probed, ``last`` as the final epoch."""
    last = config["experiments"][experiment]["epochs"]
    return sorted({*snapshot_epochs(config), *([last] if LAST in config["probe"]["epochs"] else [])})
