"""Measure your own model: near-rank loss of any ``torch.nn.Module``'s layers on one batch.

    import rankgap
    result = rankgap.measure(model, x)  # x: a batch as the model takes it, batch first
    print(result)                       # a few lines: what was measured, the headline numbers per layer
    result.summary()                    # per layer: the count per threshold, its genuine part, effective rank
    result.totals()                     # per threshold, all layers: the count and its parts; the deficit apart
    result.counts                       # per layer, mode and threshold: the count, its parts, the deficit

The measurement is the pipeline's, through the pipeline's own functions: the forward pass of
``probe.capture`` in float64, the spectra of ``svd.analyse_layers`` and the counts of
``rankloss.run_counts``.  The tables therefore have the columns of the pipeline's ``spectra.csv``,
``modes.csv`` and ``rankloss.csv`` (docs/rank_analysis.md: the probe's files, "What the count is made of").
The result is measurement.py's ``Measurement``; what is checked of the inputs, measure_inputs.py's.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
from torch import nn

from . import models, probe, rankloss, svd
from .measure_inputs import (  # noqa: F401  (InputError: rankgap.api's own name too)
    Batch,
    InputError,
    check_output,
    checked_batch,
    checked_device,
    checked_mask,
    checked_model,
    expected_input,
)
from .measurement import Measurement

# which layers are measured: the pipeline's probe chooses the same way (models.select_layers)
from .models import ACTIVATIONS, describe_layers, select_layers  # noqa: F401  (rankgap.api's own names too)
from .settings import schema_default

THRESHOLDS = tuple(schema_default("analysis", "thresholds"))  # the paper's: the config's default
MODES = ("eval", "train")


PREFLIGHT = 2  # samples of the forward pass that checks every layer's output before any measurement
FAILURES = (RuntimeError, TypeError)
CHECK_FAILURES = (*FAILURES, IndexError, ValueError, AssertionError)


HIDDEN_STATES = "hidden_states"  # layers=: the model's own hidden states (output_hidden_states=True)
PRECISIONS = ("float64", "model")


def measure(
    model: nn.Module,
    x,
    layers=None,
    thresholds=THRESHOLDS,
    mode: str = "eval",
    device: torch.device | str | None = None,
    relative: bool = False,
    select=None,
    axes: tuple[str, ...] | None = None,
    mask=None,
    precision: str = "float64",
) -> Measurement:
    """Near-rank loss of ``model``'s layer outputs on the batch ``x``: spectra, per layer and mode
    statistics, and the counts with their parts, as the pipeline computes them.

    ``x``: a batch as the model takes it, batch first: a tensor (floats, or integer token ids passed
    as they are), a tuple of the model's positional arguments, or a mapping of its keyword
    arguments (a tokenizer's output, ``BatchEncoding``), every tensor with the same number of samples.
    ``layers``: which modules' outputs to measure (``select_layers``; default: every activation
    module, transformers' activation classes included); or ``"hidden_states"``: the model's own
    hidden states (``output_hidden_states=True``, as Hugging Face models return them), one per block,
    named ``hidden_states.0`` (the embeddings) onwards.  Each output measured must be a floating
    tensor of 2 dimensions or more, batch first (batch x units, batch x tokens x hidden, batch x
    channels x length, x height x width, x depth x height x width); a module that runs more than
    once gives one output per call (``name``, ``name#2``...).
    ``select``: for modules that return a tuple, list or dict (attention blocks, most transformer
    layers): the index or key of the tensor to measure, for every one of them or per name pattern
    (``{"encoder.*.attn": 0}``).
    ``thresholds``: the count is of singular values at or below each (times sigma_max of each
    unfolding when ``relative``).
    ``mode``: ``eval`` (batch norm uses its running statistics, dropout is off) or ``train`` (batch
    norm uses the batch's own statistics; dropout drops at random).
    ``device``: where the forward pass and the SVDs run; default: the GPU when there is one (with
    ``precision="model"``: where the model is).
    ``axes``: names of the modes after the batch's for outputs of that many dimensions plus one,
    e.g. ``("token", "hidden")`` (default: ``svd.mode_names``).
    ``mask``: batch x tokens, 1 for a token and 0 for padding; default: the batch's
    ``attention_mask`` when it is a mapping that has one (False: none).  In every output of shape
    batch x tokens x hidden, padded positions are left out: the hidden mode is the hidden x
    (every real token of every sequence) unfolding, and the batch and token modes, which need every
    sequence at every position, keep the positions that are a token in every sequence.  Outputs of
    other shapes are measured whole.
    ``precision``: ``float64`` (default: a deep copy of the model in float64 runs, the paper's exact
    counts) or ``model``: the model runs as it is, in its own dtype and on its own device, nothing
    copied, and each output is cast to float64 only for its SVD (docs/measure.md: which thresholds
    a bf16 or fp16 forward pass can resolve).

    Returns a ``Measurement``: ``print(result)`` shows in a few lines what was measured and the
    headline numbers per layer; ``result.summary()`` is those numbers, one row per layer (the count
    per threshold, its genuine part, the effective rank); ``result.totals()`` the count and its parts
    per threshold over every layer, the structural deficit apart (not in the count); ``spectra``,
    ``modes`` and ``counts`` the pipeline's tables.

    Every input is checked first (``InputError``), every selected layer's output too, on a forward
    pass of two samples; a batch the model does not take is named by its shape, beside what the
    model's first layer of known input size takes.  Then one forward pass measures: each output is
    analysed as it is produced and freed, so memory holds the forward pass, one layer's output and
    its SVD's workspace at a time (hidden states: the model returns them all at once).
    ``model`` itself is left as it was.
    """
    if mode not in MODES:
        raise InputError(f"mode '{mode}': expected one of {', '.join(MODES)}")
    if precision not in PRECISIONS:
        raise InputError(f"precision '{precision}': expected one of {', '.join(PRECISIONS)}")
    thresholds = [float(t) for t in thresholds]
    if not thresholds or min(thresholds) <= 0:
        raise InputError(f"thresholds {thresholds}: expected one or more positive numbers, such as {list(THRESHOLDS)}")
    model, batch = checked_model(model), checked_batch(x)
    masked = checked_mask(mask, batch)
    hidden = isinstance(layers, str) and layers == HIDDEN_STATES
    try:
        names = [] if hidden else [name for name, _ in select_layers(model, layers)]  # the copy's have the same names
    except models.LayerError as error:
        raise InputError(str(error)) from None
    if precision == "float64":
        device = checked_device(device)
        probed = copy.deepcopy(model).to(device=device, dtype=torch.float64)
        floating = torch.float64
    else:
        device, floating = model_placement(model, device)
        probed = model
    was_training = model.training
    probed.train(mode == "train")
    modules = dict(probed.named_modules())
    chosen = [(name, modules[name]) for name in names]
    batch = batch.to(device, floating)
    if masked is not None:
        masked = masked.to(device)

    def run(part: Batch, keep=None) -> dict:
        if hidden:
            states = hidden_states(probed(*part.args, **part.kwargs, output_hidden_states=True))
            outputs = {}
            for i, state in enumerate(states):
                if keep is None:
                    outputs[f"{HIDDEN_STATES}.{i}"] = state
                else:
                    keep(f"{HIDDEN_STATES}.{i}", state)
            return outputs
        return probe.capture(lambda _: probed(*part.args, **part.kwargs), None, chosen, keep, select)[0]

    def forward(part: Batch, keep=None) -> dict:
        failures = FAILURES if keep else CHECK_FAILURES
        try:
            with torch.no_grad():
                return run(part, keep)
        except probe.OutputError as error:  # a module that returns no tensor, and no selector picks one
            raise InputError(str(error)) from None
        except InputError:  # the analysis's own (keep's)
            raise
        except failures as error:  # a batch of shapes (or of a type) the model does not take
            expected, first, single = "", None, part.single()
            if keep is None and single is not None:  # the check: about the user's batch, not its first samples
                expected, first = expected_input(probed, single, batch.size)
            integers = (
                ""
                if single is None or single.dtype.is_floating_point or isinstance(first, nn.Embedding)
                else f" (x holds {single.dtype} values, passed as they are, as token ids for an embedding: cast x to "
                "float for a model that takes values)"
            )
            said = (
                f"{expected}torch's message, on its first {part.size} samples (the check before measuring)"
                if keep is None
                else "torch's message"
            )
            raise InputError(
                f"the model's forward pass on a batch of shape {batch.shape()} failed{integers}: {said}: {error}"
            ) from error

    spectra, modes = [], []

    def analyse(name: str, output: torch.Tensor) -> None:
        if not svd.finite(output):
            raise InputError(
                f"layer {name} outputs NaN or Inf: the model's weights or the batch hold them, or overflow"
            )
        depth = len({m["layer"] for m in modes})
        output = output.to(torch.float64)  # with precision="model": this layer's copy, for its SVD
        if masked is not None and output.ndim == 3 and output.shape[:2] == masked.shape:
            layer_spectra, layer_modes = masked_layer(depth, name, output, masked, axes)
        else:
            layer_spectra, layer_modes = svd.analyse_layer(depth, name, output, axes=axes)
        spectra.extend(layer_spectra)
        modes.extend(layer_modes)

    try:
        outputs = forward(batch.first(PREFLIGHT))
        if not outputs:
            raise InputError(f"none of the selected layers ({', '.join(names)}) ran in the model's forward pass")
        for name, output in outputs.items():
            check_output(name, output)
        del outputs
        forward(batch, analyse)
    finally:
        model.train(was_training)  # precision="model" ran the model itself
    spectra, modes = svd.spectrum_tables(spectra, modes)
    counts = rankloss.run_counts(spectra, modes, thresholds, relative)
    shape = tuple(batch.single().shape) if batch.single() is not None else batch.shape()
    return Measurement(spectra, modes, counts, type(model).__name__, shape, mode, tuple(thresholds), relative)


def model_placement(model: nn.Module, device) -> tuple[torch.device, torch.dtype]:
    """Where a model that runs as it is (precision="model") is, and its floating dtype: a ``device``
    asked for must be the model's own (it is not moved)."""
    floating = [p for p in [*model.parameters(), *model.buffers()] if p.dtype.is_floating_point]
    if not floating:
        raise InputError("precision='model': the model has no floating parameters to take its dtype from")
    placed, dtype = floating[0].device, floating[0].dtype
    if device is not None and torch.device(device) != placed:
        raise InputError(
            f"precision='model' runs the model where it is ({placed}), not on device {device}: move the model "
            f"there first (model.to('{device}')), or leave device out"
        )
    return placed, dtype


def hidden_states(result) -> tuple[torch.Tensor, ...]:
    """The hidden states a model returned when asked for them (``output_hidden_states=True``)."""
    states = getattr(result, HIDDEN_STATES, None)
    if states is None and isinstance(result, Mapping):
        states = result.get(HIDDEN_STATES)
    if not states:
        raise InputError(
            "layers='hidden_states': the model returned no hidden states when called with "
            "output_hidden_states=True (a Hugging Face model returns them); name its layers instead"
        )
    return tuple(states)


def masked_layer(depth: int, name: str, x: torch.Tensor, mask: torch.Tensor, axes) -> tuple[list, list]:
    """One batch x tokens x hidden output with padded positions left out: its batch and token modes
    on the positions that are a token in every sequence, its hidden mode on every real token of
    every sequence (hidden x tokens unfolding)."""
    names = ("batch", *axes) if axes and len(axes) == 2 else ("batch", "token", "hidden")
    common = mask.all(0)
    if not common.any():
        raise InputError(
            f"layer {name}: no position is a token in every sequence (the mask): the batch and token modes "
            "need one; pad less, or measure shorter sequences together"
        )
    shared_spectra, shared_modes = svd.analyse_layer(depth, name, x[:, common], axes=names[1:], only=(0, 1))
    # of the 2-dimensional tokens x hidden output, its second mode: hidden x tokens
    hidden_spectra, hidden_modes = svd.analyse_layer(depth, name, x[mask], axes=(names[2],), only=(1,))
    return shared_spectra + hidden_spectra, shared_modes + hidden_modes
