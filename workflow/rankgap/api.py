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
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from . import models, probe, rankloss, svd
from .device import why_no_gpu

# which layers are measured: the pipeline's probe chooses the same way (models.select_layers)
from .models import ACTIVATIONS, describe_layers, select_layers  # noqa: F401  (rankgap.api's own names too)
from .settings import schema_default

THRESHOLDS = tuple(schema_default("analysis", "thresholds"))  # the paper's: the config's default
MODES = ("eval", "train")


class InputError(ValueError):
    """Bad input, found before any measurement: the message says what is wrong and what would be right."""


PARTS = [c for c in rankloss.COMPONENTS if c != "deficit"]  # the count's parts: dead_zeros + other_zeros + genuine
COUNTED, NOT_COUNTED = "count", "not in the count"  # totals()'s column groups
SHOWN = 8  # layers print(result) shows in full; beyond, its first and last ones


@dataclass(repr=False)
class Measurement:
    """What ``measure`` returns: the pipeline's tables for one model and one batch.

    ``print(result)`` says in a few lines what was measured (the model's class, its layers, the
    batch's shape, the mode and the thresholds) and the headline numbers per layer, ``summary()``'s
    (up to 8 layers; beyond, the first and last ones).  ``summary()``: per layer, one row: the count
    per threshold, its genuine part, the effective rank.  ``totals()``: per threshold, over every
    layer and mode, the count and its parts, the structural deficit apart from them.  ``spectra``,
    ``modes`` and ``counts``: the pipeline's tables, in full.
    """

    spectra: pd.DataFrame  # every singular value: layer, depth, mode, index, sigma (as spectra.csv)
    modes: pd.DataFrame  # per layer and mode: shape, deficit, all-zero lines, tolerance, sigma_max... (as modes.csv)
    # per layer, mode and threshold (rankloss.csv's columns): the count, its parts (dead_zeros +
    # other_zeros + genuine = count) and the structural deficit beside it, not in it
    counts: pd.DataFrame
    model: str | None = None  # the measured model's class
    batch_shape: tuple[int, ...] | str | None = None  # the batch's, as given (its tensors' when several)
    mode: str = "eval"
    thresholds: tuple[float, ...] | None = None  # default: those of ``counts``
    relative: bool = False  # thresholds times sigma_max of each unfolding

    def _thresholds(self) -> list[float]:
        return list(self.thresholds) if self.thresholds is not None else list(self.counts["threshold"].unique())

    def _at(self, threshold: float) -> str:
        return f"@{threshold:g}" + ("*sigma_max" if self.relative else "")

    def summary(self) -> pd.DataFrame:
        """One row per layer, in forward order, its modes combined as the pipeline combines them per
        layer: ``modes`` (how many), ``values`` (singular values reported, summed over the modes),
        per threshold ``count@T`` (values at or below T; ``@T*sigma_max`` when relative) and
        ``genuine@T`` (its part above the rank tolerance: near-rank loss proper), and
        ``effective_rank`` (summed over the modes).  Per mode: ``counts`` and ``modes``."""
        per_mode = self.modes.groupby("layer", sort=False)
        table = pd.DataFrame({"modes": per_mode.size(), "values": per_mode["values"].sum()})
        by_threshold = {
            t: rows.groupby("layer", sort=False) for t, rows in self.counts.groupby("threshold", sort=False)
        }
        for column in ("count", "genuine"):
            for threshold, rows in by_threshold.items():
                table[column + self._at(threshold)] = rows[column].sum()
        table["effective_rank"] = per_mode["effective_rank"].sum()
        return table.rename_axis("layer").reset_index()

    def totals(self) -> pd.DataFrame:
        """Per threshold (the index), summed over every layer and mode: under ``count``, the
        ``total`` (the paper's count, what the pipeline's figures plot) and its parts, which add up to
        it (``dead_zeros + other_zeros + genuine = total``); under ``not in the count``, the
        structural ``deficit`` (values an SVD of a wide unfolding never reports), which is no part
        of it.  ``totals()["count", "total"]``: the counts alone."""
        summed = self.counts.groupby("threshold", sort=False)[["count", *PARTS, "deficit"]].sum()
        columns = pd.MultiIndex.from_tuples(
            [(COUNTED, "total"), *((COUNTED, part) for part in PARTS), (NOT_COUNTED, "deficit")]
        )
        return pd.DataFrame(summed.to_numpy(), index=summed.index, columns=columns)

    def __repr__(self) -> str:
        layers = self.modes["layer"].unique()
        thresholds = ", ".join(f"{t:g}" for t in self._thresholds())
        thresholds += " (times sigma_max of each unfolding)" if self.relative else ""
        shape = "" if self.batch_shape is None else f", batch {self.batch_shape}"
        table = self.summary().drop(columns=["modes", "values"])
        table["effective_rank"] = table["effective_rank"].map("{:.1f}".format)
        table = table.astype(object)  # counts stay integers beside the row that says how many are left out
        if len(table) > SHOWN:
            head, tail = SHOWN // 2, SHOWN // 2 - 1
            more = pd.DataFrame([{"layer": f"... {len(table) - head - tail} more"}], dtype=object)
            table = pd.concat([table.head(head), more, table.tail(tail)], ignore_index=True)
        if self.relative:  # said once, on the first line
            table = table.rename(columns=lambda column: column.removesuffix("*sigma_max"))
        shown = "\n".join(line.rstrip() for line in table.to_string(index=False, na_rep="").splitlines())
        return (
            f"Measurement of {self.model or 'a model'}: {len(layers)} layer{'' if len(layers) == 1 else 's'}{shape}, "
            f"{self.mode} mode, "
            f"thresholds {thresholds}\n"
            "per layer, over its modes (count = dead_zeros + other_zeros + genuine):\n"
            f"{shown}\n"
            "tables: .summary(), .totals(), .counts, .modes, .spectra"
        )

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


@dataclass
class Batch:
    """A batch as the model takes it: ``args`` (positional) and ``kwargs`` (keyword), every tensor
    among them batch first, ``size`` samples."""

    args: tuple
    kwargs: dict
    size: int

    @property
    def tensors(self) -> dict[str, torch.Tensor]:
        """Every tensor, by the name it has in messages: x, x[0], x['input_ids']..."""
        if self.single() is not None:
            return {"x": self.single()} if isinstance(self.single(), torch.Tensor) else {}
        named = {f"x[{i}]": v for i, v in enumerate(self.args)} | {f"x[{k!r}]": v for k, v in self.kwargs.items()}
        return {name: v for name, v in named.items() if isinstance(v, torch.Tensor)}

    def shape(self) -> str:
        """The batch's shape as a message says it: (8, 3, 32, 32), or input_ids (16, 256), ..."""
        if self.single() is not None:
            return str(tuple(self.single().shape))
        return ", ".join(f"{name} {tuple(t.shape)}" for name, t in self.tensors.items())

    def single(self) -> torch.Tensor | None:
        """The one tensor of a batch given as a tensor (None for arguments)."""
        return self.args[0] if len(self.args) == 1 and not self.kwargs else None

    def map(self, change) -> Batch:
        """The batch with ``change`` applied to every tensor."""

        def each(v):
            return change(v) if isinstance(v, torch.Tensor) else v

        return Batch(tuple(each(v) for v in self.args), {k: each(v) for k, v in self.kwargs.items()}, self.size)

    def first(self, n: int) -> Batch:
        first = self.map(lambda t: t[:n])
        return Batch(first.args, first.kwargs, min(n, self.size))

    def to(self, device: torch.device, floating: torch.dtype) -> Batch:
        """On ``device``, floating values in ``floating`` (integers, token ids and masks, as they are)."""
        return self.map(lambda t: t.to(device=device, dtype=floating if t.dtype.is_floating_point else t.dtype))


def checked_batch(x) -> Batch:
    """The batch as the model will take it: a tensor (the model's one argument), a tuple or list
    (its positional arguments) or a mapping (its keyword arguments: a tokenizer's output), every
    tensor batch first with the same number of samples."""
    if isinstance(x, torch.Tensor):
        batch = Batch((x,), {}, 0)
    elif isinstance(x, (tuple, list)):
        batch = Batch(tuple(x), {}, 0)
    elif isinstance(x, Mapping):
        batch = Batch((), dict(x), 0)
    else:
        raise InputError(
            f"x is a {type(x).__name__}: give the batch as the model takes it, batch first: a tensor, a tuple "
            "of its positional arguments, or a mapping of its keyword arguments (a tokenizer's output)"
        )
    tensors = batch.tensors
    if not tensors:
        raise InputError(
            f"x is a {type(x).__name__} holding no tensor: give the batch as the model takes it, batch first: a "
            "tensor (torch.as_tensor), a tuple of its positional arguments, or a mapping of its keyword arguments"
        )
    for name, t in tensors.items():
        if t.ndim == 0 or len(t) == 0:
            raise InputError(
                f"{name} has shape {tuple(t.shape)}: an empty batch; give at least two samples, batch first"
            )
        if t.dtype.is_complex or (t.dtype == torch.bool and batch.single() is not None):
            raise InputError(f"{name} is {t.dtype}: give floating values, or integer token ids")
    sizes = {name: len(t) for name, t in tensors.items()}
    if len(set(sizes.values())) > 1:
        raise InputError(
            "the tensors of x hold different numbers of samples ("
            + ", ".join(f"{name}: {n}" for name, n in sizes.items())
            + "); every tensor is batch first, the same batch"
        )
    batch.size = next(iter(sizes.values()))
    return batch


def checked_mask(mask, batch: Batch) -> torch.Tensor | None:
    """The attention mask (batch x tokens, 1 for a token, 0 for padding): ``mask`` itself, or with
    None the batch's ``attention_mask`` when it has one; False: none."""
    if mask is None:
        mask = batch.kwargs.get("attention_mask")
    if mask is None or mask is False:
        return None
    if not isinstance(mask, torch.Tensor) or mask.ndim != 2 or len(mask) != batch.size:
        shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise InputError(
            f"mask {shape}: expected a tensor of shape ({batch.size}, tokens), 1 for a token, 0 for padding"
        )
    if not ((mask == 0) | (mask == 1)).all():
        raise InputError("mask holds values other than 0 and 1: 1 for a token, 0 for padding")
    empty = (~mask.bool().any(1)).nonzero().flatten().tolist()
    if empty:
        raise InputError(f"mask: sequence(s) {empty[:5]} have no token at all; give each at least one")
    return mask.bool()


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
# what a forward pass raises on a batch the model does not take; the check before measuring also takes
# what layers raise on other shapes (batch norm's ValueError, attention's assertion), where no analysis runs
FAILURES = (RuntimeError, TypeError)
CHECK_FAILURES = (*FAILURES, IndexError, ValueError, AssertionError)
SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}  # a convolution's or batch norm's dimensions after the channels'


def channels(number: int) -> str:
    return f"{number} channel" + ("" if number == 1 else "s")


def takes(module: nn.Module, n: int) -> str | None:
    """What ``module`` takes as input, in words and as a batch of ``n`` samples' shape; None when
    nothing can be said (a module without sizes, or a lazy one not yet built)."""
    if isinstance(module, nn.modules.conv._ConvNd) and module.in_channels:
        number, spatial = module.in_channels, SPATIAL[len(module.kernel_size)]
        return f"{channels(number)}: a batch of shape ({n}, {number}, {spatial})"
    if isinstance(module, nn.Linear) and module.in_features:
        features = module.in_features
        return (
            f"{features} features in its last dimension: a batch of shape ({n}, {features}), or ({n}, ..., {features})"
        )
    if isinstance(module, nn.Embedding):
        return f"integer token ids below {module.num_embeddings}: a batch of shape ({n}, tokens), integers"
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.num_features:
        dims = {nn.BatchNorm1d: "[, L]", nn.BatchNorm2d: ", H, W", nn.BatchNorm3d: ", D, H, W"}.get(
            type(module), ", ..."
        )
        return f"{channels(module.num_features)}: a batch of shape ({n}, {module.num_features}{dims})"
    if isinstance(module, nn.GroupNorm):
        return f"{channels(module.num_channels)}: a batch of shape ({n}, {module.num_channels}, ...)"
    if isinstance(module, nn.LayerNorm):
        last = ", ".join(map(str, module.normalized_shape))
        return f"last dimensions ({last}): a batch of shape ({n}, ..., {last})"
    if isinstance(module, nn.MultiheadAttention):
        shape = f"({n}, tokens, {module.embed_dim})" if module.batch_first else f"(tokens, {n}, {module.embed_dim})"
        return f"{module.embed_dim} features per token: a batch of shape {shape}"
    if isinstance(module, nn.RNNBase):
        shape = f"({n}, steps, {module.input_size})" if module.batch_first else f"(steps, {n}, {module.input_size})"
        return f"{module.input_size} features per step: a batch of shape {shape}"
    return None


def expected_input(model: nn.Module, batch: torch.Tensor, n: int) -> tuple[str, nn.Module | None]:
    """What the model's layers expect, as far as can be said, for a ``batch`` its forward pass fails
    on: its first layer whose input size is known, and the one the pass stopped in when another,
    described for a batch of ``n`` samples; and that first layer (None when none is known).  Runs
    the forward pass again to find them."""
    called, finished = [], set()
    handles = []
    for name, module in model.named_modules():
        if takes(module, n) is not None:
            handles.append(module.register_forward_pre_hook(lambda *_, name=name: called.append(name)))
            handles.append(module.register_forward_hook(lambda *_, name=name: finished.add(name)))
    try:
        with torch.no_grad():
            model(batch)
        return "", None  # it ran this time: nothing to say
    except Exception:
        pass
    finally:
        for handle in handles:
            handle.remove()
    if not called:
        return "", None
    modules = dict(model.named_modules())

    def described(name: str) -> str:
        return f"{name} ({type(modules[name]).__name__}), takes {takes(modules[name], n)}"

    said = f"the model's first layer of known input size, {described(called[0])}"
    stopped = next((name for name in reversed(called) if name not in finished), None)
    if stopped is not None and stopped != called[0]:
        said += f"; the layer the forward pass stopped in, {described(stopped)}"
    return said + ". ", modules[called[0]]


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
