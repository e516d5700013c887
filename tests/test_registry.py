"""The registry names every built-in model and dataset once; what is derived from it agrees with it."""

import re

import pytest
import yaml

from conftest import REPO
from rankgap import configuration, data, models, registry


def test_every_registered_model_and_dataset_can_be_built():
    assert models.BUILDERS.keys() == registry.MODELS.keys()
    assert list(data.SOURCES) == registry.DOWNLOADED
    assert {*data.SOURCES, *data.BUILT_LOCALLY} == registry.SHAPES.keys()


def test_the_configs_allowed_values_are_the_registrys():
    """An unknown model, dataset or variant is refused with the registry's names as the allowed values."""
    config = {
        "name": "registry",
        "experiments": {
            "e": {
                "model": "lenet7",
                "variant": "deep",
                "datasets": ["svhn"],
                "batch_sizes": [16],
                "epochs": 1,
                "weight_decay": 0.0,
            }
        },
    }
    with pytest.raises(configuration.ConfigError) as error:
        configuration.validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    message = str(error.value)
    for key, allowed in (
        ("model", registry.MODELS),
        ("variant", registry.VARIANTS),
        ("datasets[0]", registry.SHAPES),
    ):
        assert f"experiments.e.{key}: " in message and f"allowed values: {', '.join(allowed)}" in message, message
    schema = (REPO / "workflow/schemas/config.schema.yaml").read_text()
    assert all(name not in schema for name in ("enum: [bn, nobn, linear]", "enum: [lenet5")), "listed in the schema"


def test_sources_may_name_the_downloaded_datasets_and_nothing_else():
    """``sources`` takes a folder for each dataset the registry downloads, and refuses one built locally."""
    schema = str(REPO / "workflow/schemas/config.schema.yaml")
    config = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    configuration.validate({**config, "sources": dict.fromkeys(registry.DOWNLOADED, "/shared")}, schema)
    with pytest.raises(configuration.ConfigError, match=r"sources: unknown key 'digits'.*allowed keys: cifar10"):
        configuration.validate({**config, "sources": {"digits": "/shared"}}, schema)


def test_the_report_labels_name_every_model_and_variant():
    labels = {registry.model_label(m, v) for m in registry.MODELS for v in registry.VARIANTS}
    assert len(labels) == len(registry.MODELS) * len(registry.VARIANTS)
    assert registry.model_label("lenet5", "nobn") == "LeNet-5 without batch norm"


def parameter_table() -> list[tuple[str, int, int, int, int]]:
    """The rows of the table in models.py's docstring: (model, channels, size, bn and linear, nobn)."""
    label = {model.label: name for name, model in registry.MODELS.items()}
    rows = re.findall(r"^\s+(\S+)\s+(\d)x(\d+)x\d+\s+([\d,]+)\s+([\d,]+)$", models.__doc__, flags=re.M)
    return [
        (label[m], int(c), int(s), int(bn.replace(",", "")), int(nobn.replace(",", ""))) for m, c, s, bn, nobn in rows
    ]


@pytest.mark.parametrize("name, channels, size, with_bn, without_bn", parameter_table())
def test_the_parameter_counts_in_the_models_docstring_are_the_models(name, channels, size, with_bn, without_bn):
    def count(variant):
        return sum(p.numel() for p in models.build(name, variant, channels, size, 10).parameters())

    assert count("bn") == count("linear") == with_bn and count("nobn") == without_bn


def test_the_docstring_table_covers_every_model():
    assert {row[0] for row in parameter_table()} == set(registry.MODELS)


def test_the_schema_documents_the_registry():
    """The schema's descriptions name the built-ins (for a reader); the registry is what is checked."""
    definitions = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())["definitions"]
    assert all(name in definitions["model"]["description"] for name in registry.MODELS)
    assert all(name in definitions["dataset"]["description"] for name in registry.SHAPES)
