"""One run's settings: ``RunSettings``, everything that determines a training run, built from a
config (``run_settings``: the experiment's values over the ``train`` defaults) or from keyword
values (``settings``: the schema's defaults for the rest).

What the jobs import of the config (training, probes, the measure API), apart from the checks of a
config (configuration.py), so that editing a config check or its message reruns no job.  Torch-free.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from pathlib import Path

from .registry import SHAPES, Shape


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunSettings:
    """Everything that determines one training run, and nothing else: Snakemake reruns a training
    exactly when its ``as_dict()`` changes.

    No field has a default: the schema (workflow/schemas/config.schema.yaml) is their one home.
    ``run_settings`` builds a run's settings from a config the schema has filled in, ``settings``
    from keyword values (the schema's training defaults for the rest).  The stored form (the rule's
    params, the checkpoint, the weights file, the summary) is ``as_dict()``, every field; a weights
    file rebuilds its model without the config (``from_dict``).
    """

    model: str  # a built-in (registry.MODELS) or one of the config's own
    dataset: str
    batch_size: int
    seed: int
    epochs: int
    weight_decay: float
    # the training options: the schema's `train` section, which an experiment may override
    momentum: float
    lr_start: float
    lr_end: float
    schedule: str
    augment: str
    drop_last: bool
    precision: str
    compile: bool
    channels_last: bool
    cuda_graphs: bool
    deterministic: bool
    # remedies for the large-batch gap (docs/remedies.md), training options too
    ghost_batch_size: int | None
    lr_scaling: str
    warmup_epochs: int
    regime_adaptation: bool
    base_batch_size: int
    activation_noise: float
    switch: dict | None  # Table 11: {epoch, batch_size} from which the run trains at another batch size
    # what builds the model: a built-in's variant and options, or the config's own model's factory
    variant: str | None
    model_options: dict
    factory: str | None  # MODULE:FUNCTION
    layers: str | list | None  # the config's own model's probed layers (models.select_layers)
    shape: Shape | None  # the config's own dataset's, measured; a built-in's is the registry's

    @classmethod
    def from_dict(cls, stored: Mapping) -> RunSettings:
        """The settings of a stored form (``as_dict()``); a summary's other keys are ignored.  A form
        stored before a training option existed (a remedy) ran without it: its schema default, off."""
        values = {f.name: stored[f.name] for f in dataclasses.fields(cls) if f.name in stored}
        if isinstance(values.get("shape"), Mapping):
            values["shape"] = Shape(**values["shape"])
        return default_settings(**values)

    def as_dict(self) -> dict:
        return {
            f.name: dataclasses.asdict(value) if isinstance(value := getattr(self, f.name), Shape) else value
            for f in dataclasses.fields(self)
        }

    @property
    def image_shape(self) -> Shape:
        """The image shape, classes and split sizes of the run's dataset."""
        return self.shape or SHAPES[self.dataset]

    def passes_per_epoch(self, batch_size: int) -> int:
        return passes_per_epoch(
            self.image_shape.train, batch_size, self.drop_last, self.regime_adaptation, self.base_batch_size
        )


# where the schema lives in a checkout (the package is installed from it in place, `pip install -e`)
SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"
# what builds the model, when a run's settings do not say (and no model_options: a fresh {} each time)
ABSENT = {"switch": None, "variant": None, "factory": None, "layers": None, "shape": None}


@functools.cache  # read once per process: default_settings() runs for every weights file a job loads
def _schema() -> dict:
    import yaml

    return yaml.safe_load(SCHEMA.read_text())


def schema_default(section: str, key: str):
    """The schema's default of ``section.key`` (e.g. analysis.thresholds): the one home of defaults,
    for what reads them without a config (the measure API, a test, a benchmark)."""
    return _schema()["properties"][section]["properties"][key]["default"]


def training_defaults() -> dict:
    """Every training option (the schema's `train` section) at its schema default: remedies off."""
    return {key: schema_default("train", key) for key in _schema()["properties"]["train"]["properties"]}


def default_settings(**values) -> RunSettings:
    """A run's settings from keyword values: the training options not given at the schema's
    defaults, the model-building ones not given absent (a test's, a benchmark's, an older file's)."""
    return RunSettings(**{**training_defaults(), **ABSENT, "model_options": {}, **values})


def training_options(config: dict, experiment: str) -> dict:
    """An experiment's training options: its own values over the config's ``train`` section (a
    config filled in with the schema's defaults, as the Snakefile and ``read`` give it)."""
    exp = config["experiments"][experiment]
    return {key: exp.get(key, default) for key, default in config["train"].items()}


def run_settings(
    config: dict, experiment: str, dataset: str, batch_size: int, seed: int, shapes: dict[str, Shape] = SHAPES
) -> RunSettings:
    """The settings of one run: the experiment's training options over the config's ``train``
    defaults, and what builds its model and its data."""
    exp = config["experiments"][experiment]
    custom_model = config["models"].get(exp["model"])
    if custom_model:
        model = {
            "factory": custom_model["factory"],
            "model_options": custom_model["options"],
            "layers": custom_model.get("layers"),
            "variant": None,
        }
    else:
        model = {
            "variant": exp["variant"],
            "model_options": exp.get("model_options", {}),
            "factory": None,
            "layers": None,
        }
    return RunSettings(
        **training_options(config, experiment),
        **model,
        model=exp["model"],
        dataset=dataset,
        batch_size=int(batch_size),
        seed=int(seed),
        epochs=exp["epochs"],
        weight_decay=exp["weight_decay"],
        switch=exp.get("switch"),
        shape=None if dataset in SHAPES else shapes[dataset],
    )


def steps_per_epoch(train_images: int, batch_size: int, drop_last: bool) -> int:
    return train_images // batch_size if drop_last else math.ceil(train_images / batch_size)


def passes_per_epoch(
    train_images: int, batch_size: int, drop_last: bool, regime_adaptation: bool, base_batch_size: int
) -> int:
    """Passes over the training set that make one epoch at ``batch_size``: one, or with regime
    adaptation (Hoffer et al. 2017) as many as it takes to make at least the steps an epoch at the
    base batch size makes.  Counting the extra passes inside the epoch keeps everything that is
    counted in epochs (the learning-rate schedule, warm-up, snapshots, the switch, ``last``) at the
    same step as in the base batch size's run; batches at or below the base take one pass."""
    if not regime_adaptation:
        return 1
    base = steps_per_epoch(train_images, base_batch_size, drop_last)
    return max(1, math.ceil(base / steps_per_epoch(train_images, batch_size, drop_last)))
