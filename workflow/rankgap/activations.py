"""Activation dumps: a fixed batch of training images through a trained model, every probed layer's
output saved (safetensors, one tensor per layer, batch first).

The forward pass runs in float64 (``dtype``): near-rank loss is counted at 1e-4 and 1e-5, and
float32 rounding noise (about 1e-7 of the largest singular value, which reaches the thousands)
lands right on those thresholds.  See ``rank`` for the measurement.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import save_file

from . import data, models

DTYPES = {"float64": torch.float64, "float32": torch.float32}


def probe_indices(n_train: int, batch_size: int, seed: int) -> torch.Tensor:
    """The probe batch: the first ``batch_size`` of a seeded permutation of the training set, so a
    smaller batch is a subset of a larger one and every run of a dataset sees the same images."""
    if batch_size > n_train:
        raise ValueError(f"probe batch of {batch_size} is larger than the training set ({n_train} images)")
    return torch.randperm(n_train, generator=torch.Generator().manual_seed(seed))[:batch_size]


@torch.no_grad()
def probe(weights: dict, x_uint8: torch.Tensor, dataset: str, mode: str = "eval",
          dtype: torch.dtype = torch.float64, points=("activations",)) -> dict[str, torch.Tensor]:
    """Outputs of the probed layers for the batch ``x_uint8``, in forward order, in ``dtype``.

    ``points``: ``activations`` (every activation's output, the paper's H^l), ``input`` (the
    normalised images) and ``logits`` (the last layer's output).
    """
    model = models.from_weights(weights).to(device=x_uint8.device, dtype=dtype)
    # train mode: batch norm uses the probe batch's own statistics (activation noise stays off: it
    # needs the training loop's generator, models._ActivationNoise)
    model.train(mode == "train")
    x = data.normalize(x_uint8, dataset, dtype=dtype)
    outputs: dict[str, torch.Tensor] = {"input": x} if "input" in points else {}
    hooks = [
        module.register_forward_hook(lambda _m, _i, out, name=name: outputs.__setitem__(name, out.detach().clone()))
        for name, module in models.probe_points(model) if "activations" in points
    ]
    try:
        logits = model(x)
    finally:
        for hook in hooks:
            hook.remove()
    if "logits" in points:
        outputs["logits"] = logits
    return outputs


def dump(weights_path: Path, dataset_path: Path, out: Path, batch_size: int, seed: int, mode: str,
         dtype: str, device: torch.device, points=("activations",)) -> None:
    """Write the probe's outputs for one run to ``out`` (atomically)."""
    weights = torch.load(weights_path, map_location="cpu", weights_only=False)
    dataset = weights["settings"]["dataset"]
    x_train = data.load(dataset_path)["x_train"]
    batch = x_train[probe_indices(len(x_train), batch_size, seed)].to(device)
    status = weights.get("status", "ok")
    # a diverged run's weights hold NaN: its dump lists no layers and says why
    outputs = probe(weights, batch, dataset, mode, DTYPES[dtype], points) if status == "ok" else {}
    metadata = {"layers": json.dumps(list(outputs)), "status": status, "dataset": dataset,
                "batch_size": str(batch_size), "mode": mode, "dtype": dtype}
    partial = Path(str(out) + ".partial")
    save_file({k: v.cpu().contiguous() for k, v in outputs.items()}, str(partial), metadata=metadata)
    os.replace(partial, out)

