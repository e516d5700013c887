"""The linear variant is what the paper describes: linear activations in a network that is not affine."""

import pytest
import torch

from rankgap import models


def affine_gap(model: torch.nn.Module) -> float:
    """max |f(a x1 + (1 - a) x2) - (a f(x1) + (1 - a) f(x2))| over random inputs, in float64:
    zero (to rounding) exactly when f is affine on them."""
    g = torch.Generator().manual_seed(0)
    x1, x2 = torch.randn(2, 16, 1, 28, 28, generator=g, dtype=torch.float64)
    a = 0.3
    with torch.no_grad():
        return (model(a * x1 + (1 - a) * x2) - (a * model(x1) + (1 - a) * model(x2))).abs().max().item()


@pytest.mark.parametrize("pooling, affine", [("max", False), ("avg", True)])
def test_linear_lenet5_is_affine_in_eval_mode_only_with_average_pooling(pooling, affine):
    torch.manual_seed(0)
    model = models.build("lenet5", "linear", 1, 28, 10, pooling=pooling).double().eval()
    gap = affine_gap(model)
    assert (gap < 1e-12) == affine, gap
    if not affine:
        assert gap > 1e-3  # not rounding: max pooling picks different elements for different inputs


def test_the_linear_variant_keeps_max_pooling_by_default():
    pools = [m for m in models.build("lenet5", "linear", 1, 28, 10).modules() if isinstance(m, torch.nn.MaxPool2d)]
    assert len(pools) == 2
