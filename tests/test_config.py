"""Bad configs stop the run before any job, with an error that names the key and what would be right."""

import dataclasses

import pytest
import yaml

from conftest import REPO, copy_project, snakemake
from rankgap import configuration, settings

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"

GOOD = {
    "name": "config_test",
    "experiments": {
        "demo": {"model": "lenet5", "datasets": ["digits"], "batch_sizes": [16, 64], "epochs": 1, "weight_decay": 0.0}
    },
    "tables": {"t": {"experiment": "demo", "dataset": "digits"}},
    "figures": {"f": {"experiment": "demo", "threshold": 1.0e-4}},
    "probe": {"fixed_size": 256},  # digits has 360 test images: the default fixed probe (2048) is too large
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("config"))


def dry_run(project, config):
    path = project / "test-config.yaml"
    path.write_text(yaml.safe_dump(config))
    return snakemake(project, "--dry-run", "--configfile", str(path), check=False)


def edited(**changes):
    config = yaml.safe_load(yaml.safe_dump(GOOD))
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = config
        for parent in parents:
            node = node[parent]
        if value is None:
            del node[key]
        else:
            node[key] = value
    return config


def test_good_config_plans_the_runs(project):
    result = dry_run(project, GOOD)
    assert result.returncode == 0, result.stderr
    assert "train" in result.stdout


@pytest.mark.parametrize(
    "changes, expected",
    [
        (
            {"experiments__demo__epoch": 3},
            ["experiments.demo: unknown key 'epoch' (did you mean 'epochs'?)", "allowed keys:"],
        ),
        ({"experiments__demo__batch_sizes": [16, -4]}, ["experiments.demo.batch_sizes[1]: -4 must be at least 1"]),
        (
            {"experiments__demo__model": "lenet7"},
            ["experiments.demo.model: 'lenet7' is not allowed", "allowed values: lenet5, vgg16, resnet56"],
        ),
        (
            {"experiments__demo__datasets": ["svhn"]},
            ["experiments.demo.datasets[0]: 'svhn' is not allowed", "mnist, fashion_mnist, cifar10, cifar100, digits"],
        ),
        ({"experiments__demo__epochs": None}, ["experiments.demo: 'epochs' is a required property"]),
        ({"probe": {"dtype": "float16"}}, ["probe.dtype: 'float16' is not allowed; allowed values: float64, float32"]),
        (
            {"probe__fixed_size": 400},
            ["probe.fixed_size 400 is larger than the 360 test images of 'digits'; use at most 360, or leave 'test'"],
        ),
        ({"probe__fixed_splits": ["validation"]}, ["probe.fixed_splits[0]: 'validation' is not allowed"]),
        (
            {"experiments__demo__batch_sizes": [16, 5000]},
            ["batch size(s) [5000] exceed the 1437 training images of 'digits'"],
        ),
        ({"figures__f__threshold": 3e-3}, ["figures.f.threshold 0.003 is not in analysis.thresholds"]),
        ({"tables__t__experiment": "dmeo"}, ["tables.t: unknown experiment 'dmeo'; defined: demo"]),
        (
            {"random_matrices": {"distributions": {"A1": "cauchy"}}},
            ["random_matrices.distributions.A1: 'cauchy' is not allowed; allowed values: gaussian, uniform, lognormal"],
        ),
        (
            {"random_matrices": {"distributions": {"A1": "gaussian"}, "sizes": [{"m": 100, "n": [10, 200]}]}},
            ["random_matrices.sizes[0]: n = [200] larger than m = 100; give the tall orientation"],
        ),
        # an experiment's own training options have the bounds of the train section's defaults
        ({"experiments__demo__lr_start": -1}, ["experiments.demo.lr_start: -1 must be greater than 0"]),
        ({"experiments__demo__momentum": 3}, ["experiments.demo.momentum: 3 must be less than 1"]),
        ({"experiments__demo__momentum": 1.0}, ["experiments.demo.momentum: 1.0 must be less than 1"]),
        ({"experiments__demo__epochs": 0}, ["experiments.demo.epochs: 0 must be at least 1"]),
        ({"experiments__demo__weight_decay": -1e-4}, ["experiments.demo.weight_decay: -0.0001 must be at least 0"]),
        (
            {"experiments__demo__schedule": "step"},
            ["experiments.demo.schedule: 'step' is not allowed; allowed values: exponential, cosine"],
        ),
        ({"train": {"lr_end": 0}}, ["train.lr_end: 0 must be greater than 0"]),
        (
            {"experiments__demo__model_options": {"pooling": "min"}},
            ["experiments.demo.model_options.pooling: 'min' is not allowed; allowed values: max, avg"],
        ),
        ({"random_matrices": {"repetitions": 1}}, ["random_matrices.repetitions: 1 must be at least 2"]),
        ({"random_matrices": {"dtype": "float32"}}, ["random_matrices.method gram needs dtype float64"]),
        (
            {"figures__f__plot": "measure"},
            ["figures.f plots a measure: give figures.f.measure"],
        ),
        (
            {"figures__f__plot": "measure", "figures__f__measure": "effective_rank"},
            ["figures.f.measure effective_rank has no threshold: leave out figures.f.threshold"],
        ),
        ({"figures__f__measure": "count"}, ["figures.f.measure applies to plot: measure only"]),
        ({"figures__f__threshold": None}, ["figures.f needs a threshold: one of analysis.thresholds"]),
        ({"name": None}, ["the config's top level: 'name' is a required property: The config's name"]),
        (
            {
                "tables": {"tableA1": {"experiment": "demo", "dataset": "digits"}},
                "random_matrices": {"distributions": {"A1": "uniform"}},
            },
            ["random_matrices.distributions.A1 writes tableA1, which tables.tableA1 writes too"],
        ),
    ],
)
def test_bad_config_is_refused_before_any_job(project, changes, expected):
    result = dry_run(project, edited(**changes))
    assert result.returncode != 0
    message = result.stdout + result.stderr
    for fragment in expected:
        assert fragment in message, message
    assert "Building DAG" not in message  # refused while reading the config, before planning any job
    assert 'File "' not in message  # the message alone, without the package's traceback


def test_all_problems_are_reported_at_once(project):
    result = dry_run(project, edited(experiments__demo__epoch=3, experiments__demo__model="lenet7"))
    message = result.stdout + result.stderr
    assert "unknown key 'epoch'" in message and "'lenet7' is not allowed" in message


def test_paper_config_is_valid_and_plans_every_artifact(project):
    result = snakemake(project, "--dry-run")  # config.yaml, the paper's full grid
    for artifact in [f"results/tables/table{i}.csv" for i in range(1, 12)] + [
        f"results/figures/fig{i}.pdf" for i in range(1, 7)
    ]:
        assert artifact in result.stdout


def test_a_runs_settings_take_every_training_default_from_the_schema():
    """RunSettings has no defaults of its own: a config's run, and one built from keyword values,
    hold the schema's `train` defaults, and a changed default there changes both."""
    schema = yaml.safe_load(SCHEMA.read_text())["properties"]["train"]["properties"]
    assert not [f.name for f in dataclasses.fields(settings.RunSettings) if f.default is not dataclasses.MISSING]
    built = settings.default_settings(model="lenet5", dataset="digits", batch_size=8, seed=0, epochs=1, weight_decay=0)
    assert {key: getattr(built, key) for key in schema} == {key: spec["default"] for key, spec in schema.items()}
    config = configuration.read(REPO / "config/demo.yaml")
    experiment = next(iter(config["experiments"]))
    run = settings.run_settings(config, experiment, "digits", 16, 0)
    assert {key: getattr(run, key) for key in schema} == settings.training_options(config, experiment)


def test_every_training_option_can_be_set_per_experiment_within_the_same_bounds():
    properties = yaml.safe_load(SCHEMA.read_text())["properties"]
    train, experiment = (
        properties["train"]["properties"],
        properties["experiments"]["additionalProperties"]["properties"],
    )
    assert {key: experiment.get(key) for key in train} == {key: {"$ref": spec["$ref"]} for key, spec in train.items()}


def test_every_table_figure_and_remedy_comparison_gets_a_caption_once():
    """A caption left out is made from the entry's name in one place (configuration.fill), which the
    rules and the published READMEs both read; one given is kept."""
    raw = yaml.safe_load((REPO / "config/smoke.yaml").read_text())
    table = next(iter(raw["tables"]))
    raw["tables"][table]["caption"] = "Mine"
    config = configuration.fill(raw)
    assert config["tables"][table]["caption"] == "Mine"
    assert config["figures"], "the smoke config draws figures"
    for kind in ("tables", "figures"):
        for name, spec in config[kind].items():
            if (kind, name) != ("tables", table):
                assert spec["caption"] == f"{name}: experiment {spec['experiment']}"
    remedies = configuration.read(REPO / "config/remedies_smoke.yaml")["remedy_comparisons"]
    assert remedies, "the remedies smoke config compares remedies"
    for name, spec in remedies.items():
        assert spec["caption"] == f"Remedies for the large-batch gap: {name}"
