"""The rival measures: Hessian sharpness against an explicit Hessian, WeightWatcher in float64."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call

from rankgap import models, sharpness, weight_spectra


@pytest.fixture(scope="module")
def tiny():
    """A tiny tanh network in float64 (44 parameters), its data and its explicit Hessian."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4)).double()
    x, labels = torch.randn(40, 3, dtype=torch.float64), torch.randint(0, 4, (40,))
    names = [name for name, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss(vector):
        pieces = dict(
            zip(names, (piece.view(shape) for piece, shape in zip(vector.split([s.numel() for s in shapes]), shapes)))
        )
        return nn.functional.cross_entropy(functional_call(model, pieces, (x,)), labels)

    return model, x, labels, torch.autograd.functional.hessian(loss, flat)


def test_hessian_vector_products_are_the_explicit_hessians(tiny):
    model, x, labels, hessian = tiny
    v = torch.randn(len(hessian), dtype=torch.float64)
    for chunk in (7, 1024):  # chunks add up to the whole batch's product
        product = sharpness.hessian_product(model, x, labels, chunk)(v)
        torch.testing.assert_close(product, hessian @ v, rtol=0, atol=1e-12)


def test_power_iteration_finds_the_largest_eigenvalue(tiny):
    model, x, labels, hessian = tiny
    eigenvalues = torch.linalg.eigvalsh(hessian)
    largest = eigenvalues[eigenvalues.abs().argmax()]
    product = sharpness.hessian_product(model, x, labels, len(x))
    result = sharpness.top_eigenvalue(
        product, len(hessian), torch.Generator().manual_seed(0), iterations=2000, tolerance=1e-12, dtype=torch.float64
    )
    assert result["power_converged"]
    assert result["lambda_max"] == pytest.approx(float(largest), rel=1e-6)  # stated tolerance: 1e-6 relative


def test_hutchinson_estimates_the_trace(tiny):
    model, x, labels, hessian = tiny
    product = sharpness.hessian_product(model, x, labels, len(x))
    result = sharpness.hutchinson_trace(
        product, len(hessian), torch.Generator().manual_seed(1), samples=2000, dtype=torch.float64
    )
    # exactly the mean of z'Hz over the same random signs, with the explicit Hessian (1e-10 relative)
    generator = torch.Generator().manual_seed(1)
    signs = [(torch.randint(0, 2, (len(hessian),), generator=generator) * 2 - 1).double() for _ in range(2000)]
    assert result["trace"] == pytest.approx(float(np.mean([z @ hessian @ z for z in signs])), rel=1e-10)
    # and within four of its standard errors (and 5%) of the true trace
    trace = float(hessian.trace())
    assert abs(result["trace"] - trace) <= 4 * result["trace_stderr"]
    assert result["trace"] == pytest.approx(trace, rel=0.05)


def test_hessian_products_go_through_lenets_own_cpu_max_pooling():
    """models.MaxPool2x2's backward must be differentiable again: the same products as nn.MaxPool2d's."""
    torch.manual_seed(0)
    ours = models.build("lenet5", "bn", 1, 28, 10).double().eval()
    reference = models.build("lenet5", "bn", 1, 28, 10).double().eval()
    reference.load_state_dict(ours.state_dict())
    reference.pool1, reference.pool2 = nn.MaxPool2d(2), nn.MaxPool2d(2)
    x, labels = torch.randn(6, 1, 28, 28, dtype=torch.float64), torch.randint(0, 10, (6,))
    v = torch.randn(sum(p.numel() for p in ours.parameters()), dtype=torch.float64)
    torch.testing.assert_close(
        sharpness.hessian_product(ours, x, labels, len(x))(v),
        sharpness.hessian_product(reference, x, labels, len(x))(v),
        rtol=1e-10,
        atol=1e-12,
    )


@pytest.mark.skipif(
    torch.cuda.is_available(),
    reason="WeightWatcher imported where a GPU is visible switches to "
    "float16; the rule's script hides the GPUs (tests/test_remedies.py runs it)",
)
def test_weightwatcher_runs_in_float64():
    """Its stable rank and largest singular value of a layer are a float64 SVD's to 1e-12 (through
    float32 they would be off by about 1e-7)."""
    torch.manual_seed(0)
    state = models.build("lenet5", "bn", 1, 28, 10).state_dict()
    layers = weight_spectra.analyze(state).set_index("layer")
    assert list(layers.index) == ["conv1", "conv2", "fc3", "fc4", "fc5"]
    for name in ("fc3", "fc4", "fc5"):
        sigma = np.linalg.svd(state[f"{name}.weight"].double().numpy(), compute_uv=False)
        assert layers.at[name, "sv_max"] == pytest.approx(sigma[0], rel=1e-12)
        assert layers.at[name, "stable_rank"] == pytest.approx((sigma**2).sum() / sigma[0] ** 2, rel=1e-12)
    assert np.isfinite(layers["alpha"]).all()
    summary = weight_spectra.summary(layers.reset_index())
    assert summary["weight_alpha"] == pytest.approx(layers["alpha"].mean())
