"""The probe: a batch of images through a trained model, every probed layer's output saved (the
activation dump: safetensors, one tensor per layer, batch first).

Each run and probe epoch is probed on several batches (``probe_batch``): the paper's probe batch
(``batch``: the first bs images of a seeded permutation of the training set, bs the run's own batch
size, so that its size moves with the batch size), and the fixed probes (``train``, ``test``: the
first ``probe.fixed_size`` images of a seeded permutation of that split, the same images for every
run of a dataset), on which measures are compared across batch sizes.

The forward pass runs in float64 (``dtype``): near-rank loss is counted at 1e-4 and 1e-5, and
float32 rounding noise (about 1e-7 of the largest singular value, which reaches the thousands)
lands right on those thresholds.  See ``svd`` for the measurement.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from . import data, models, status
from .atomic import written

DTYPES = {"float64": torch.float64, "float32": torch.float32}


def batch_indices(n_images: int, batch_size: int, seed: int) -> torch.Tensor:
    """A probe's images: the first ``batch_size`` of a seeded permutation of a split's ``n_images``,
    so a smaller batch is a subset of a larger one and every run of a dataset sees the same images."""
    if batch_size > n_images:
        raise ValueError(f"probe batch of {batch_size} is larger than the split ({n_images} images)")
    return torch.randperm(n_images, generator=torch.Generator().manual_seed(seed))[:batch_size]


def probe_batch(splits: dict, probe: str, images: int, seed: int) -> torch.Tensor:
    """The uint8 images of a probe (``configuration.probe_kinds``): the first ``images`` of the
    seeded permutation of the training set for the paper's probe batch (``batch``) and the fixed
    ``train`` probe, of the test set for the fixed ``test`` probe."""
    split = splits["x_test" if probe == "test" else "x_train"]
    if probe != "batch" and images > len(split):  # a dataset file smaller than its registry entry says
        raise ValueError(
            f"probe.fixed_size {images} is larger than the {len(split)} {probe} images of this dataset's file; "
            f"use at most {len(split)}, or leave '{probe}' out of probe.fixed_splits"
        )
    return split[batch_indices(len(split), images, seed)]


def described(out) -> str:
    """What a module returned, in a few words: 'Tensor (8, 197, 768)', 'tuple of 2 (Tensor (8, 197, 768), None)'."""
    if isinstance(out, torch.Tensor):
        return f"Tensor {tuple(out.shape)} of {out.dtype}"
    if isinstance(out, (tuple, list)):
        return f"{type(out).__name__} of {len(out)} (" + ", ".join(described(item) for item in out[:4]) + ")"
    if isinstance(out, dict):
        return "dict (" + ", ".join(f"{key!r}: {described(item)}" for key, item in list(out.items())[:4]) + ")"
    return type(out).__name__


class OutputError(TypeError):
    """A probed module returned something other than a tensor, and nothing picks one out of it."""


def selected(name: str, out, select=None) -> torch.Tensor:
    """A module's output as a tensor: itself, or the item of the tuple, list or dict it returns that
    ``select`` picks: an index or key for every such module, or ``{name pattern: index or key}``
    (``fnmatch``, as layers are named).  An OutputError that says what it returned and how to pick."""
    choice = select
    if isinstance(select, dict):
        choice = next((c for pattern, c in select.items() if fnmatch.fnmatchcase(name, pattern)), None)
    if isinstance(out, torch.Tensor):
        return out
    if choice is not None and isinstance(out, (tuple, list, dict)):
        try:
            item = out[choice]
        except (IndexError, KeyError, TypeError):
            raise OutputError(f"module {name} returned a {described(out)}: {choice!r} picks nothing in it") from None
        if isinstance(item, torch.Tensor):
            return item
        raise OutputError(
            f"module {name} returned a {described(out)}: {choice!r} picks a {described(item)}, not a tensor"
        )
    raise OutputError(
        f"module {name} returned a {described(out)}, not a tensor: pick the tensor to measure with select "
        f"(an index or key, e.g. select=0, or per layer select={{'{name}': 0}}; --select on the command line)"
    )


@torch.no_grad()
def capture(model: nn.Module, x: torch.Tensor, modules: list[tuple[str, nn.Module]], keep=None, select=None):
    """Run ``model`` on ``x``; return (outputs, result): the outputs of ``modules``, (name, module)
    pairs, by name in the order they ran (each a tensor: ``selected`` with ``select``), and the
    model's own output.

    A module that runs more than once in a forward pass (one ReLU object reused, as torchvision's
    ResNet blocks do) gives one output per call: ``name``, then ``name#2``, ``name#3``...
    ``keep(key, output)``: what to do with each output as it is produced, instead of keeping a copy
    in ``outputs`` (``rankgap.measure`` analyses it there and then, so that memory holds one layer's
    output at a time); it must not change the output, which the forward pass goes on using.
    """
    outputs: dict[str, torch.Tensor] = {}
    calls: dict[str, int] = {}

    def hook(name: str, out) -> None:
        out = selected(name, out, select)
        calls[name] = calls.get(name, 0) + 1
        key = name if calls[name] == 1 else f"{name}#{calls[name]}"
        if keep is None:
            outputs[key] = out.detach().clone()  # an in-place operation later in the forward pass would change it
        else:
            keep(key, out.detach())

    hooks = [module.register_forward_hook(lambda _m, _i, out, name=name: hook(name, out)) for name, module in modules]
    try:
        result = model(x)
    finally:
        for handle in hooks:
            handle.remove()
    return outputs, result


@torch.no_grad()
def activations(
    weights: dict,
    x_uint8: torch.Tensor,
    normalization: data.Normalization,
    mode: str = "eval",
    dtype: torch.dtype = torch.float64,
    points=("activations",),
) -> dict[str, torch.Tensor]:
    """Outputs of the probed layers for the batch ``x_uint8``, in forward order, in ``dtype``.

    ``normalization``: the dataset's (``data.normalization``).  ``points``: ``activations`` (every
    activation's output, the paper's H^l, or the layers a custom model's settings name), ``input``
    (the normalised images) and ``logits`` (the last layer's output).
    """
    model = models.from_weights(weights).to(device=x_uint8.device, dtype=dtype)
    # train mode: batch norm uses the probe batch's own statistics (activation noise stays off: it
    # needs the training loop's generator, models._ActivationNoise)
    model.train(mode == "train")
    x = data.normalize(x_uint8, normalization, dtype=dtype)
    layers = models.select_layers(model, weights["settings"].get("layers")) if "activations" in points else []
    probed, logits = capture(model, x, layers)
    outputs = {"input": x} if "input" in points else {}
    outputs.update(probed)
    if "logits" in points:
        outputs["logits"] = logits
    return outputs


def dump(
    weights_path: Path,
    dataset_path: Path,
    out: Path,
    probe: str,
    images: int,
    seed: int,
    mode: str,
    dtype: str,
    device: torch.device,
    points=("activations",),
    record: dict | None = None,
) -> None:
    """Write the outputs of one run's ``probe`` (``probe_batch``: its kind and number of ``images``)
    to ``out`` (atomically); ``record``: where and at which commit the probe ran
    (``provenance.stage_record``), kept in the dump's metadata for its spectra's record."""
    weights = torch.load(weights_path, map_location="cpu", weights_only=False)
    dataset = weights["settings"]["dataset"]
    splits = data.load(dataset_path)
    batch = probe_batch(splits, probe, images, seed).to(device)
    run_status = status.of(weights)
    # a diverged run's weights hold NaN: its dump lists no layers and says why
    normalization = data.normalization(dataset, splits["x_train"])
    outputs = activations(weights, batch, normalization, mode, DTYPES[dtype], points) if run_status == status.OK else {}
    metadata = {
        "layers": json.dumps(list(outputs)),
        "status": run_status,
        "dataset": dataset,
        "probe": probe,
        "images": str(images),
        "mode": mode,
        "dtype": dtype,
        "record": json.dumps(record or {}),
    }
    with written(out) as partial:
        save_file({k: v.cpu().contiguous() for k, v in outputs.items()}, str(partial), metadata=metadata)
