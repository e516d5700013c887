"""Sharpness, the rival explanation of the large-batch gap (Keskar et al. 2017: large batches find
sharp minima): the largest eigenvalue and the trace of the Hessian of the training loss at a run's
final weights.

Neither needs the Hessian itself (LeNet-5 has 62,000 parameters, VGG-16 15 million): both are built
from Hessian-vector products, each a second backward pass through the gradient (Pearlmutter's
trick, ``torch.autograd.grad`` with ``create_graph``).  The largest eigenvalue comes from power
iteration, the trace from Hutchinson's estimator, the mean of z'Hz over random Rademacher vectors z.

The loss is the mean cross-entropy of a fixed, seeded set of training images (the same for every
run of a dataset), without the weight-decay penalty, whose Hessian would only add lambda to every
eigenvalue (lambda to the largest, lambda times the number of parameters to the trace).

The model is evaluated in eval mode, for three reasons: it is the function the network computes at
test time, where the gap is measured; in train mode batch norm couples the images through the batch
statistics, so "the loss on these images" would depend on how they are split into batches, and the
split would differ between a batch-128 and a batch-8192 run; and in eval mode the loss is a sum over
images, so it can be taken in chunks (the config's ``rivals.hessian_chunk`` images) whose products add
up to the same product.  Eval mode also switches the training-only remedies off (activation noise; ghost batch
norm, whose running statistics are plain batch norm's).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import data, models, probe, status
from .atomic import written

log = logging.getLogger(__name__)

HessianProduct = Callable[[torch.Tensor], torch.Tensor]  # v -> H v, flat over every parameter


def hessian_product(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, chunk: int) -> HessianProduct:
    """v -> H v for the Hessian H of the mean cross-entropy of ``model`` on (x, labels) with
    respect to every parameter, v and H v flattened in ``model.parameters()`` order.  The model's
    mode is left as it is (eval mode makes the loss a sum over images, which the chunks need)."""
    params = [p for p in model.parameters() if p.requires_grad]

    def product(vector: torch.Tensor) -> torch.Tensor:
        pieces = [piece.view_as(p) for piece, p in zip(vector.split([p.numel() for p in params]), params)]
        total = torch.zeros_like(vector)
        for start in range(0, len(x), chunk):
            loss = F.cross_entropy(model(x[start : start + chunk]), labels[start : start + chunk], reduction="sum")
            grads = torch.autograd.grad(loss / len(x), params, create_graph=True)
            products = torch.autograd.grad(grads, params, grad_outputs=pieces)
            total += torch.cat([g.reshape(-1) for g in products])
        return total

    return product


def top_eigenvalue(
    product: HessianProduct,
    size: int,
    generator: torch.Generator,
    iterations: int,
    tolerance: float,
    device=None,
    dtype=torch.float32,
) -> dict:
    """The Hessian's eigenvalue of largest magnitude by power iteration: v <- Hv / |Hv| from a
    random start, the estimate being the Rayleigh quotient v'Hv.  Stops when two successive estimates
    differ by at most ``tolerance`` times the latest, or after ``iterations`` products.  At the end
    of training it is the largest positive eigenvalue: negative ones there are far smaller."""
    v = torch.randn(size, generator=generator, dtype=torch.float64).to(device=device, dtype=dtype)
    v /= v.norm()
    estimate, converged, done = math.nan, False, 0
    while done < iterations and not converged:
        done += 1
        hv = product(v)
        previous, estimate = estimate, float(v @ hv)
        v = hv / hv.norm()
        converged = abs(estimate - previous) <= tolerance * abs(estimate)
    return {"lambda_max": estimate, "power_iterations": done, "power_converged": converged}


def hutchinson_trace(
    product: HessianProduct, size: int, generator: torch.Generator, samples: int, device=None, dtype=torch.float32
) -> dict:
    """Hutchinson's estimate of the Hessian's trace: the mean of z'Hz over ``samples`` vectors z of
    independent random signs (E z'Hz = trace H), with its standard error."""
    values = []
    for _ in range(samples):
        z = (torch.randint(0, 2, (size,), generator=generator) * 2 - 1).to(device=device, dtype=dtype)
        values.append(float(z @ product(z)))
    values = torch.tensor(values, dtype=torch.float64)
    return {
        "trace": float(values.mean()),
        "trace_stderr": float(values.std() / math.sqrt(samples)),
        "trace_samples": samples,
    }


def measure(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    seed: int,
    iterations: int,
    tolerance: float,
    samples: int,
    chunk: int,
) -> dict:
    """Largest eigenvalue and trace of the Hessian of ``model``'s mean cross-entropy on (x, labels),
    in eval mode (see the module's docstring); the random vectors come from ``seed``."""
    model.eval()
    product = hessian_product(model, x, labels, chunk)
    size = sum(p.numel() for p in model.parameters() if p.requires_grad)
    dtype = next(model.parameters()).dtype
    generator = torch.Generator().manual_seed(seed)  # on the CPU: the same vectors on every device
    return {
        **top_eigenvalue(product, size, generator, iterations, tolerance, x.device, dtype),
        **hutchinson_trace(product, size, generator, samples, x.device, dtype),
    }


def of_weights(
    weights_path: Path,
    dataset_path: Path,
    out: Path,
    images: int,
    seed: int,
    iterations: int,
    tolerance: float,
    samples: int,
    chunk: int,
    device: torch.device,
) -> dict:
    """Measure one run's final weights on ``images`` training images and write the result (JSON)."""
    started = time.time()
    weights = torch.load(weights_path, map_location="cpu", weights_only=False)
    dataset = weights["settings"]["dataset"]
    result = {
        "status": status.of(weights),
        "images": images,
        "seed": seed,
        "lambda_max": math.nan,
        "trace": math.nan,
        "trace_stderr": math.nan,
    }
    if result["status"] == status.OK:  # a diverged run's weights hold NaN
        splits = data.load(dataset_path)
        # the first `images` of a seeded permutation, drawn as the probe batch is
        index = probe.batch_indices(len(splits["x_train"]), images, seed)
        x = data.normalize(splits["x_train"][index].to(device), data.normalization(dataset, splits["x_train"]))
        model = models.from_weights(weights).to(device)
        result.update(
            measure(model, x, splits["y_train"][index].to(device), seed, iterations, tolerance, samples, chunk)
        )
    result.update(seconds=time.time() - started, device=str(device))
    log.info("%s", result)
    with written(out) as partial:
        partial.write_text(json.dumps(result, indent=2, allow_nan=True))
    return result
