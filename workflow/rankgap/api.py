"""Measure your own model: near-rank loss of any ``torch.nn.Module``'s layers on one batch.

    import rankgap
    result = rankgap.measure(model, x)  # x: a batch as the model takes it, batch first
    result.counts                       # per layer, mode and threshold: the count and its parts

The measurement is the pipeline's, through the pipeline's own functions: the forward pass of
``probe.capture`` in float64, the spectra of ``rank.analyse_layers`` and the counts of
``rank.run_counts``.  The tables therefore have the columns of the pipeline's ``spectra.csv``,
``modes.csv`` and ``rankloss.csv`` (docs/rank_analysis.md: the probe's files, "What the count is made of").
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from . import models, probe, rank

# which layers are measured: the pipeline's probe chooses the same way (models.select_layers)
from .models import ACTIVATIONS, describe_layers, select_layers  # noqa: F401  (rankgap.api's own names too)

THRESHOLDS = (1e-4, 1e-5)  # the paper's, and the config's default
MODES = ("eval", "train")


class InputError(ValueError):
    """Bad input, found before any measurement: the message says what is wrong and what would be right."""


@dataclass
class Measurement:
    """What ``measure`` returns: the pipeline's tables for one model and one batch."""

    spectra: pd.DataFrame  # every singular value: layer, depth, mode, index, sigma (as spectra.csv)
    modes: pd.DataFrame  # per layer and mode: shape, deficit, all-zero lines, tolerance, sigma_max... (as modes.csv)
    counts: pd.DataFrame  # per layer, mode and threshold: the count and its parts (rankloss.csv's columns)

    def totals(self) -> pd.DataFrame:
        """Per threshold: the count and its parts summed over layers and modes (what the pipeline's figures plot)."""
        return self.counts.groupby("threshold", sort=False)[["count", *rank.COMPONENTS]].sum().reset_index()

    def save(self, folder: Path) -> list[Path]:
        """Write spectra.csv, modes.csv and counts.csv into ``folder``, as the pipeline writes its tables."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / "spectra.csv", folder / "modes.csv", folder / "counts.csv"]
        self.spectra.to_csv(paths[0], index=False, float_format="%.17g")
        self.modes.to_csv(paths[1], index=False, float_format="%.17g")
        self.counts.to_csv(paths[2], index=False)
        return paths


def check_output(name: str, x: torch.Tensor) -> None:
    """A layer's output must be what the analysis takes: 2 or 4 dimensions, float64, finite."""
    if x.ndim not in rank.MODES:
        raise InputError(
            f"layer {name} outputs shape {tuple(x.shape)}; only batch x units (2 dimensions) or "
            "batch x channels x height x width (4) are measured: choose other layers"
        )
    if x.dtype != torch.float64:
        raise InputError(
            f"layer {name} outputs {x.dtype} in a model cast to float64: its forward pass casts, "
            "and the counts need float64 (docs/rank_analysis.md: Precision)"
        )
    if not rank.finite(x):
        raise InputError(f"layer {name} outputs NaN or Inf: the model's weights or the batch hold them, or overflow")


def _one_at_a_time(outputs: dict[str, torch.Tensor]):
    """(depth, name, output) in forward order, each output taken out of ``outputs`` as it is handed
    over, so the analysis frees every layer before it takes the next."""
    for depth, name in enumerate(list(outputs)):
        yield depth, name, outputs.pop(name)


def default_device() -> torch.device:
    """The GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def measure(
    model: nn.Module,
    x: torch.Tensor,
    layers=None,
    thresholds=THRESHOLDS,
    mode: str = "eval",
    device: torch.device | str | None = None,
    relative: bool = False,
) -> Measurement:
    """Near-rank loss of ``model``'s layer outputs on the batch ``x``: spectra, per layer and mode
    statistics, and the counts with their parts, as the pipeline computes them.

    ``x``: a batch as the model takes it (normalised, batch first), cast to float64.
    ``layers``: which modules' outputs to measure (``select_layers``; default: every activation
    module).  Each must output batch x units or batch x channels x height x width; a module that
    runs more than once gives one output per call (``name``, ``name#2``...).
    ``thresholds``: the count is of singular values at or below each (times sigma_max of each
    unfolding when ``relative``).
    ``mode``: ``eval`` (batch norm uses its running statistics, dropout is off) or ``train`` (batch
    norm uses the batch's own statistics; dropout drops at random).
    ``device``: where the forward pass and the SVDs run; default: the GPU when there is one.

    ``model`` itself is left as it was: a deep copy runs, in float64 (float32 rounding lands on the
    paper's thresholds).  Memory: the outputs of the selected layers, as the pipeline's dump holds
    them, each freed once its spectra are taken.
    """
    if mode not in MODES:
        raise InputError(f"mode '{mode}': expected one of {', '.join(MODES)}")
    thresholds = [float(t) for t in thresholds]
    if not thresholds or min(thresholds) <= 0:
        raise InputError(f"thresholds {thresholds}: expected one or more positive numbers, such as {list(THRESHOLDS)}")
    try:
        names = [name for name, _ in select_layers(model, layers)]  # the copy's modules have the same names
    except models.LayerError as error:
        raise InputError(str(error)) from None
    device = default_device() if device is None else torch.device(device)
    probed = copy.deepcopy(model).to(device=device, dtype=torch.float64).train(mode == "train")
    modules = dict(probed.named_modules())
    try:
        outputs, _ = probe.capture(probed, x.to(device, torch.float64), [(name, modules[name]) for name in names])
    except (RuntimeError, TypeError) as error:  # a batch of shapes the model does not take, a layer not a tensor
        raise InputError(f"the model's forward pass on a batch of shape {tuple(x.shape)} failed: {error}") from error
    del probed, modules  # the weights are not needed for the spectra
    if not outputs:
        raise InputError(f"none of the selected layers ({', '.join(names)}) ran in the model's forward pass")
    for name, output in outputs.items():
        check_output(name, output)
    spectra, modes = rank.analyse_layers(_one_at_a_time(outputs), device)
    return Measurement(spectra, modes, rank.run_counts(spectra, modes, thresholds, relative))
