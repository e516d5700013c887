"""What ``rankgap.measure`` checks of its inputs before any measurement (the model, the batch as
the model takes it, a mask, the device, each layer's output), and how it names a wrong one: what
the model's first layer takes, against the batch it was given."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from .device import why_no_gpu


class InputError(ValueError):
    """Bad input, found before any measurement: the message says what is wrong and what would be right."""


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


# what a forward pass raises on a batch the model does not take; the check before measuring also takes
# what layers raise on other shapes (batch norm's ValueError, attention's assertion), where no analysis runs
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
