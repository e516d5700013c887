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
from .device import why_no_gpu

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
    """A layer's output must be what the analysis takes: batch x features (2 dimensions or more), floating."""
    if x.ndim < 2:
        raise InputError(
            f"layer {name} outputs shape {tuple(x.shape)}: a batch x features output (2 dimensions or more: "
            "batch x units, batch x tokens x hidden, batch x channels x height x width...) is measured; "
            "choose other layers"
        )
    if not x.dtype.is_floating_point:
        raise InputError(
            f"layer {name} outputs {x.dtype} values: only floating outputs are measured; choose other layers"
        )


def checked_batch(x) -> torch.Tensor:
    """The batch as the model will take it: floating values in float64 (float32 rounding lands on the
    paper's thresholds), integers as they are (token ids for an embedding, which a cast would break)."""
    if not isinstance(x, torch.Tensor):
        raise InputError(
            f"x is a {type(x).__name__}: give the batch as one tensor, batch first (torch.as_tensor, or torch.stack "
            "of the samples)"
        )
    if x.ndim == 0 or len(x) == 0:
        raise InputError(f"x has shape {tuple(x.shape)}: an empty batch; give at least two samples, batch first")
    if x.dtype.is_floating_point:
        return x.to(torch.float64)
    if x.dtype in (torch.bool, torch.complex64, torch.complex128) or x.dtype.is_complex:
        raise InputError(f"x is {x.dtype}: give floating values, or integer token ids")
    return x


def checked_device(device) -> torch.device:
    """Where to measure: ``device``, or the GPU when there is one; a GPU asked for must be there."""
    device = default_device() if device is None else torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device}: torch finds no GPU here ({why_no_gpu()}); use device='cpu'")
    return device


def checked_model(model) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise InputError(f"model is a {type(model).__name__}: give a torch.nn.Module")
    meta = [name for name, p in model.named_parameters() if p.device.type == "meta"]
    if meta:
        raise InputError(
            f"the model's parameters ({', '.join(meta[:3])}...) are on the meta device, without values: "
            "load its weights (load_state_dict(..., assign=True), or build it off the meta device) first"
        )
    return model


def default_device() -> torch.device:
    """The GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


PREFLIGHT = 2  # samples of the forward pass that checks every layer's output before any measurement


def measure(
    model: nn.Module,
    x: torch.Tensor,
    layers=None,
    thresholds=THRESHOLDS,
    mode: str = "eval",
    device: torch.device | str | None = None,
    relative: bool = False,
    select=None,
    axes: tuple[str, ...] | None = None,
) -> Measurement:
    """Near-rank loss of ``model``'s layer outputs on the batch ``x``: spectra, per layer and mode
    statistics, and the counts with their parts, as the pipeline computes them.

    ``x``: a batch as the model takes it, batch first: floats (cast to float64) or integer token
    ids (passed as they are).
    ``layers``: which modules' outputs to measure (``select_layers``; default: every activation
    module).  Each must output a floating tensor of 2 dimensions or more, batch first (batch x
    units, batch x tokens x hidden, batch x channels x length, x height x width, x depth x height
    x width); a module that runs more than once gives one output per call (``name``, ``name#2``...).
    ``select``: for modules that return a tuple, list or dict (attention blocks, most transformer
    layers): the index or key of the tensor to measure, for every one of them or per name pattern
    (``{"encoder.*.attn": 0}``).
    ``thresholds``: the count is of singular values at or below each (times sigma_max of each
    unfolding when ``relative``).
    ``mode``: ``eval`` (batch norm uses its running statistics, dropout is off) or ``train`` (batch
    norm uses the batch's own statistics; dropout drops at random).
    ``device``: where the forward pass and the SVDs run; default: the GPU when there is one.
    ``axes``: names of the modes after the batch's for outputs of that many dimensions plus one,
    e.g. ``("token", "hidden")`` (default: ``rank.mode_names``).

    Every input is checked first (``InputError``), every selected layer's output too, on a forward
    pass of two samples.  Then one forward pass measures: each output is analysed as it is produced
    and freed, so memory holds the forward pass, one layer's output and its SVD's workspace at a time.
    ``model`` itself is left as it was: a deep copy runs, its floating parameters in float64.
    """
    if mode not in MODES:
        raise InputError(f"mode '{mode}': expected one of {', '.join(MODES)}")
    thresholds = [float(t) for t in thresholds]
    if not thresholds or min(thresholds) <= 0:
        raise InputError(f"thresholds {thresholds}: expected one or more positive numbers, such as {list(THRESHOLDS)}")
    model, x, device = checked_model(model), checked_batch(x), checked_device(device)
    try:
        names = [name for name, _ in select_layers(model, layers)]  # the copy's modules have the same names
    except models.LayerError as error:
        raise InputError(str(error)) from None
    probed = copy.deepcopy(model).to(device=device, dtype=torch.float64).train(mode == "train")
    modules = dict(probed.named_modules())
    chosen = [(name, modules[name]) for name in names]

    def forward(batch, keep=None):
        try:
            return probe.capture(probed, batch.to(device), chosen, keep, select)[0]
        except probe.OutputError as error:  # a module that returns no tensor, and no selector picks one
            raise InputError(str(error)) from None
        except (RuntimeError, TypeError) as error:  # a batch of shapes (or of a type) the model does not take
            integers = (
                ""
                if x.dtype.is_floating_point
                else f" (x holds {x.dtype} values, passed as they are, as token ids for an embedding: cast x to "
                "float for a model that takes values)"
            )
            raise InputError(
                f"the model's forward pass on a batch of shape {tuple(x.shape)} failed{integers}: {error}"
            ) from error

    outputs = forward(x[:PREFLIGHT])
    if not outputs:
        raise InputError(f"none of the selected layers ({', '.join(names)}) ran in the model's forward pass")
    for name, output in outputs.items():
        check_output(name, output)
    del outputs
    spectra, modes = [], []

    def analyse(name: str, output: torch.Tensor) -> None:
        if not rank.finite(output):
            raise InputError(
                f"layer {name} outputs NaN or Inf: the model's weights or the batch hold them, or overflow"
            )
        layer_spectra, layer_modes = rank.analyse_layer(len({m["layer"] for m in modes}), name, output, axes=axes)
        spectra.extend(layer_spectra)
        modes.extend(layer_modes)

    forward(x, analyse)
    spectra, modes = rank.tables(spectra, modes)
    return Measurement(spectra, modes, rank.run_counts(spectra, modes, thresholds, relative))
