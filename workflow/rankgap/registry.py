"""The built-in models and datasets: what the pipeline knows of each before torch or any data is loaded.

One entry per model and per dataset.  From here come the config's allowed values
(``configuration.validate`` puts them into the schema: the dataset, model and variant names, and
the datasets ``sources`` may name), the data's normalisation (``data.normalization``), the report's
labels (``model_label``) and the cluster estimates (``resources``).  What needs torch lives under
the same names in ``models.BUILDERS`` (how to build a model) and ``data.SOURCES`` (where a dataset
comes from); tests/test_registry.py checks that the three agree, and that the activation sizes
below are what the models produce.

A model or dataset of the config's own (its ``models`` and ``datasets`` sections) is not registered:
``config_entries.describe`` measures it when the config is read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping


@dataclasses.dataclass(frozen=True)
class Shape:
    """What the models and the config validation need to know of a dataset before any data exists."""

    channels: int
    size: int
    classes: int
    train: int
    test: int


@dataclasses.dataclass(frozen=True)
class Model:
    label: str
    # seconds per epoch of 50-60k images at batch 128 and above on an H100 (docs/gpus.md): job runtimes
    epoch_seconds: float
    # image size -> floats per image of the probed activations (all layers, the largest layer): job memory
    activations: Mapping[int, tuple[int, int]]


@dataclasses.dataclass(frozen=True)
class Dataset:
    shape: Shape
    # per-channel mean and std of the training images (in [0, 1]): the usual published values (a
    # dataset of the config's own has its measured, ``data.normalization``)
    mean: tuple[float, ...]
    std: tuple[float, ...]
    downloaded: bool = True  # from data.SOURCES; or built here from a package's copy (data.BUILT_LOCALLY)


# The built-in datasets, by name: all the pipeline needs of one before its data exists
DATASETS = {
    "mnist": Dataset(Shape(1, 28, 10, 60000, 10000), (0.1307,), (0.3081,)),
    "fashion_mnist": Dataset(Shape(1, 28, 10, 60000, 10000), (0.2860,), (0.3530,)),
    "cifar10": Dataset(Shape(3, 32, 10, 50000, 10000), (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": Dataset(Shape(3, 32, 100, 50000, 10000), (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    # scikit-learn's 8x8 digits, framed 28x28 (mean and std measured on that framing)
    "digits": Dataset(Shape(1, 28, 10, 1437, 360), (0.1556,), (0.2771,), downloaded=False),
}
SHAPES = {name: dataset.shape for name, dataset in DATASETS.items()}
NORMALIZATION = {name: (dataset.mean, dataset.std) for name, dataset in DATASETS.items()}
DOWNLOADED = [name for name, dataset in DATASETS.items() if dataset.downloaded]  # what `sources` may name

MODELS = {
    "lenet5": Model("LeNet-5", 2, {28: (6_508, 4_704), 32: (8_652, 6_144)}),
    "vgg16": Model("VGG-16", 4, {32: (276_480, 65_536)}),
    "resnet56": Model("ResNet-56", 11, {32: (532_480, 16_384)}),
}

# The built-in models' variants (the paper's Tables 5-10), with what each adds to the model's label
VARIANTS = {"bn": "", "nobn": " without batch norm", "linear": " (linear)"}

ACTIVATIONS = {(name, size): sizes for name, model in MODELS.items() for size, sizes in model.activations.items()}


def model_label(model: str, variant: str) -> str:
    """A built-in model's name in reports: "LeNet-5 without batch norm"."""
    return MODELS[model].label + VARIANTS[variant]
