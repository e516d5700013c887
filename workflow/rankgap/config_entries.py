"""The config's own models and datasets (its ``models`` and ``datasets`` sections), measured when
the config is read: each dataset's shape from its data, and each model on each dataset it trains on,
built as its runs will build it and run on two images.  A dataset that cannot be read, or a model
that does not fit a dataset (channels, image size, output size against the classes, layers that
cannot be probed), stops the run here, before any job, with an error naming both.

Only the Snakefile imports this module, and only for a config with entries of its own: it needs
torch, which the config check of the built-ins does without.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import api, config_dataset, models, probe
from .configuration import ConfigError
from .registry import ACTIVATIONS, SHAPES, Shape
from .settings import run_settings

PROBE_IMAGES = 2  # images of the check's forward pass: enough for batch shapes, cheap for any model


@dataclass(frozen=True)
class Described:
    """What the config's functions (``configuration.check``, ``run_settings``, ``resources.job_resources``) take
    from the data and the models."""

    shapes: dict[str, Shape]  # every dataset's: the built-ins' and the config's own
    activations: dict[tuple[str, int], tuple[int, int]]  # as registry.ACTIVATIONS, with the config's pairs measured


def describe(config: dict) -> Described:
    """Read every dataset of the config's own and check every experiment that uses one of its own
    models or datasets; raise ConfigError at the first that does not fit."""
    shapes = dict(SHAPES)
    for name, spec in config["datasets"].items():
        try:
            shapes[name] = config_dataset.shape(name, spec)
        except config_dataset.DatasetError as error:
            raise ConfigError(str(error)) from None
    sizes = dict(ACTIVATIONS)
    for experiment, exp in config["experiments"].items():
        for dataset in exp["datasets"]:
            if exp["model"] in config["models"] or dataset in config["datasets"]:
                sizes[(exp["model"], shapes[dataset].size)] = fit(config, experiment, dataset, shapes)
    return Described(shapes, sizes)


def _first_layer_hint(model: nn.Module, channels: int) -> str:
    """What the model's first convolution takes, when that is not the images' channels."""
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first is None or first.in_channels == channels:
        return ""
    return f"; its first convolution takes {first.in_channels} channels, the images have {channels}"


@torch.no_grad()
def fit(config: dict, experiment: str, dataset: str, shapes: dict[str, Shape]) -> tuple[int, int]:
    """Build the experiment's model for ``dataset`` as its runs will, run it on two images (in
    float64, as the probe does) and check what the pipeline needs of it.  Returns the floats per
    image of the probed layers, all of them and the largest one, for the jobs' memory estimates."""
    settings = run_settings(config, experiment, dataset, PROBE_IMAGES, 0, shapes)
    name, shape = settings.model, shapes[dataset]
    own = name in config["models"]
    fix = f" (models.{name}.options)" if own else ""
    where = f"experiments.{experiment}: model {name} on dataset {dataset}"
    try:
        model = models.from_settings(settings)
    except Exception as error:  # an import, the function or its arguments: say which model, and what it said
        built_by = f" ({settings.factory} with options {settings.model_options})" if own else ""
        raise ConfigError(f"{where}: building the model{built_by} failed: {error}") from None
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"models.{name}.factory {settings.factory} returned a {type(model).__name__}, not a torch.nn.Module"
        )
    if settings.ghost_batch_size and not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        raise ConfigError(f"{where}: ghost_batch_size needs batch norm, and the model has none")
    if settings.activation_noise and not models.noisy_activations(model):
        raise ConfigError(
            f"{where}: activation_noise adds noise to ReLU and identity activations, and the model has none"
        )
    try:
        layers = models.select_layers(model, settings.layers)
    except models.LayerError as error:
        raise ConfigError(f"models.{name}: {error}\nSet models.{name}.layers to the layers to probe") from None
    model = model.to(torch.float64).eval()
    x = torch.zeros(PROBE_IMAGES, shape.channels, shape.size, shape.size, dtype=torch.float64)
    try:
        outputs, logits = probe.capture(model, x, layers)
    except probe.OutputError as error:  # the pipeline probes tensors: no selector picks one out of a tuple
        returned = str(error).split(": pick")[0]
        raise ConfigError(
            f"models.{name}: {returned}; probe layers that return a tensor (models.{name}.layers)"
        ) from None
    except Exception as error:  # a layer that does not take the images: the message names the layer's sizes
        raise ConfigError(
            f"{where}: the model does not take the dataset's images ({shape.channels} x {shape.size} x "
            f"{shape.size}): {error}{_first_layer_hint(model, shape.channels)}{fix}"
        ) from None
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (PROBE_IMAGES, shape.classes):
        per_image = tuple(logits.shape[1:]) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ConfigError(
            f"{where}: the model outputs {per_image} per image, but {dataset} has {shape.classes} "
            f"classes (labels 0 to {shape.classes - 1}): it must output {shape.classes} values{fix}"
        )
    if not outputs:
        raise ConfigError(
            f"models.{name}: none of its probed layers ({', '.join(n for n, _ in layers)}) ran in its "
            f"forward pass (models.{name}.layers)"
        )
    for layer, output in outputs.items():
        try:
            api.check_output(layer, output)
        except api.InputError as error:
            raise ConfigError(f"models.{name}: {error} (models.{name}.layers)") from None
    per_image = [output[0].numel() for output in outputs.values()]
    return sum(per_image), max(per_image)
