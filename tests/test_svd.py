"""Near-rank loss measured exactly: planted ranks, precision, and refusing bad dumps."""

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from conftest import run_settings
from rankgap import data, probe, rankloss, svd


def planted(shape, ranks, seed=0, scale=1.0):
    """A tensor of multilinear rank ``ranks``: a random core times random factor matrices."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(ranks, generator=g, dtype=torch.float64) * scale
    for mode, (dim, r) in enumerate(zip(shape, ranks)):
        factor = torch.randn(dim, r, generator=g, dtype=torch.float64)
        x = torch.movedim(torch.tensordot(factor, torch.movedim(x, mode, 0), dims=1), 0, mode).contiguous()
    return x


def numpy_spectrum(x, mode):
    unfolding = np.moveaxis(x.numpy(), mode, 0).reshape(x.shape[mode], -1)
    return np.linalg.svd(unfolding, compute_uv=False)


CASES = [
    ((64, 6, 12, 12), (20, 4, 9, 7)),  # batch narrower than the rest: wide batch-mode unfolding
    ((300, 3, 4, 4), (10, 2, 3, 4)),  # batch wider than the rest (48): a structural deficit
    ((3, 50, 2, 2), (3, 6, 2, 2)),  # a mode (50) wider than the rest of the tensor (12)
    ((500, 120), (37, 37)),  # a dense layer
    ((40, 12, 16), (10, 5, 7)),  # a token sequence: batch x tokens x hidden
    ((200, 6, 9), (12, 4, 6)),  # Conv1d: batch x channels x length, batch wider than the rest
    ((20, 3, 4, 5, 5), (8, 2, 3, 4, 3)),  # Conv3d: batch x channels x depth x height x width
]


@pytest.mark.parametrize("shape, ranks", CASES)
@pytest.mark.parametrize("many_blocks", [False, True])  # True: streaming-QR blocks as small as they go
def test_spectra_agree_with_numpy_and_find_the_planted_rank(shape, ranks, many_blocks, monkeypatch):
    if many_blocks:
        monkeypatch.setattr(svd, "BLOCK_WIDTHS", 1)
        monkeypatch.setattr(svd, "BLOCK_ELEMENTS", 1)
    x = planted(shape, ranks, scale=100.0)
    for mode in range(len(svd.mode_names(x.ndim))):
        sigma = svd.singular_values(x, mode).numpy()
        expected = numpy_spectrum(x, mode)
        assert len(sigma) == len(expected) == min(x.shape[mode], x.numel() // x.shape[mode])
        np.testing.assert_allclose(sigma, expected, rtol=0, atol=1e-10 * expected[0])
        assert (sigma <= 1e-8).sum() == len(sigma) - ranks[mode]  # exactly the planted deficiency


def test_modes_are_named_by_the_outputs_order():
    assert svd.mode_names(2) == ("batch",)
    assert svd.mode_names(3) == ("batch", "axis1", "axis2")
    assert svd.mode_names(4) == ("batch", "channel", "height", "width")
    assert svd.mode_names(5) == ("batch", "channel", "depth", "height", "width")
    with pytest.raises(ValueError, match="1 dimension"):
        svd.mode_names(1)


def with_dead_lines(x):
    """Zero one channel, one spatial position in every channel and one sample, as dead ReLUs do."""
    x = x.clone()
    x[:, 3] = 0
    x[:, :, 2, 2] = 0
    x[7] = 0
    return x


@pytest.mark.parametrize("many_blocks", [False, True])
@pytest.mark.parametrize("shape", [(200, 8, 5, 5), (30, 8, 5, 5)])  # tall and wide batch-mode unfoldings
def test_all_zero_lines_are_left_out_of_the_svd_exactly(shape, many_blocks, monkeypatch):
    if many_blocks:
        monkeypatch.setattr(svd, "BLOCK_WIDTHS", 1)
        monkeypatch.setattr(svd, "BLOCK_ELEMENTS", 1)
    x = with_dead_lines(planted(shape, (20, 6, 4, 4), scale=10.0))
    for mode in range(4):
        expected = numpy_spectrum(x, mode)
        np.testing.assert_allclose(svd.singular_values(x, mode).numpy(), expected, rtol=0, atol=1e-10 * expected[0])
    zero_rows, zero_cols = svd.zero_lines(x, 0)
    assert zero_rows.sum() == 1  # sample 7
    assert zero_cols.sum() == 25 + 8 - 1  # channel 3's 25 positions, position (2, 2) in the other 7 channels
    zero_rows, zero_cols = svd.zero_lines(x, 1)
    assert zero_rows.sum() == 1 and zero_cols.sum() == shape[0] + 25 - 1  # channel 3; sample 7 and (2, 2)


def test_analyse_reports_deficit_condition_and_effective_rank(tmp_path):
    x = planted((300, 3, 4, 4), (10, 2, 3, 4), scale=100.0)
    dump = tmp_path / "d.safetensors"
    save_file(
        {"conv": x, "dense": planted((300, 20), (5, 5))}, str(dump), metadata={"layers": json.dumps(["conv", "dense"])}
    )
    spectra, modes = svd.analyse(dump)
    row = modes.set_index(["layer", "mode"]).loc[("conv", "batch")]
    assert (row["dim"], row["rest"], row["values"], row["deficit"]) == (300, 48, 48, 252)
    assert row["sigma_max"] == spectra.query("layer == 'conv' and mode == 'batch'")["sigma"].max()
    assert math.isinf(row["condition"]) or row["condition"] > 1e12  # rank 10 of 48: numerically singular
    assert modes.set_index(["layer", "mode"]).loc[("dense", "batch"), "deficit"] == 300 - 20
    assert list(modes["layer"].unique()) == ["conv", "dense"] and list(spectra["depth"].unique()) == [0, 1]


def test_effective_rank_of_known_spectra():
    assert svd.effective_rank(np.ones(7)) == pytest.approx(7)
    assert svd.effective_rank(np.array([5.0, 0, 0])) == pytest.approx(1)
    assert 1 < svd.effective_rank(np.array([10.0, 1.0])) < 2


def decomposed(tmp_path, x, thresholds=(1e-4,), relative=False):
    dump = tmp_path / "layer.safetensors"
    save_file({"layer": x.contiguous()}, str(dump), metadata={"layers": json.dumps(["layer"])})
    spectra, modes = svd.analyse(dump)
    counts = rankloss.run_counts(spectra, modes, list(thresholds), relative)
    assert (counts["dead_zeros"] + counts["other_zeros"] + counts["genuine"] == counts["count"]).all()
    return counts.set_index(["mode", "threshold"])


def full_rank(rows, cols, seed=0):
    return torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_dead_units_are_dead_zeros(tmp_path):
    x = full_rank(300, 50)
    x[:, [3, 8, 9, 20, 31, 40, 49]] = 0  # 7 units never active on the batch
    row = decomposed(tmp_path, x).loc[("batch", 1e-4)]
    assert (row["count"], row["dead_zeros"], row["other_zeros"], row["genuine"], row["deficit"]) == (7, 7, 0, 0, 250)
    assert row["dead_units"] == pytest.approx(7 / 50)


def test_a_rank_capped_by_a_narrower_input_is_other_zeros(tmp_path):
    x = full_rank(300, 20) @ full_rank(20, 50, seed=1)  # a linear layer fed a 20-dimensional input
    row = decomposed(tmp_path, x).loc[("batch", 1e-4)]
    assert (row["count"], row["dead_zeros"], row["other_zeros"], row["genuine"]) == (30, 0, 30, 0)


def test_a_batch_wider_than_the_layer_is_the_deficit(tmp_path):
    row = decomposed(tmp_path, full_rank(300, 40)).loc[("batch", 1e-4)]
    assert (row["values"], row["deficit"], row["count"]) == (40, 260, 0)


def test_small_but_nonzero_singular_values_are_genuine(tmp_path):
    u, _ = torch.linalg.qr(full_rank(300, 50))
    v, _ = torch.linalg.qr(full_rank(50, 50, seed=1))
    sigma = torch.logspace(2, -1, 50, dtype=torch.float64)
    sigma[-4:] = torch.tensor([5e-5, 2e-5, 5e-6, 1e-6])  # four values between the tolerance and 1e-4
    counts = decomposed(tmp_path, u @ torch.diag(sigma) @ v.T, thresholds=(1e-4, 1e-5))
    assert (counts.loc[("batch", 1e-4), "genuine"], counts.loc[("batch", 1e-5), "genuine"]) == (4, 2)
    assert counts["zeros"].sum() == 0
    relative = decomposed(tmp_path, u @ torch.diag(sigma) @ v.T, thresholds=(3e-7,), relative=True)
    assert relative.loc[("batch", 3e-7), "count"] == 3  # sigma <= 3e-7 * sigma_max (100): 2e-5, 5e-6, 1e-6


def test_float64_probe_counts_a_known_deficiency_exactly_where_float32_cannot():
    """A linear LeNet-5 fed 2048 images that are integer combinations of 20 basis images: every
    layer is affine, so the batch-mode rank of its first output is 21 and 2048 - 21 singular
    values are exactly zero.  The float64 path counts exactly those at 1e-5 and at 1e-6; a float32
    path (forward pass and SVD) leaves rounding noise of ~1e-7 sigma_max (sigma_max ~ 600 here, so
    noise up to ~1e-4) on them and misses some at the paper's 1e-5 and most at 1e-6."""
    from rankgap import models

    torch.manual_seed(0)
    run = run_settings(variant="linear", dataset="mnist", model_options={"pooling": "avg"})
    weights = {"settings": run.as_dict(), "state": models.from_settings(run).state_dict()}
    g = torch.Generator().manual_seed(1)
    basis = torch.randint(0, 4, (20, 28 * 28), generator=g)
    mix = torch.randint(0, 4, (2048, 20), generator=g)
    images = (mix @ basis).reshape(2048, 1, 28, 28).to(torch.uint8)  # at most 20 * 3 * 3 = 180: exact
    exact = 2048 - 21
    counts = {}
    for dtype in (torch.float64, torch.float32):
        sigma = svd.singular_values(
            probe.activations(weights, images, data.NORMALIZATION["mnist"], dtype=dtype)["act1"], 0
        )
        assert sigma[0] > 100
        counts[dtype] = {t: int((sigma <= t).sum()) for t in (1e-5, 1e-6)}
    assert counts[torch.float64] == {1e-5: exact, 1e-6: exact}
    assert counts[torch.float32][1e-5] < exact
    assert counts[torch.float32][1e-6] < exact / 2


def write_dump(path, tensors, layers=None):
    save_file(tensors, str(path), metadata={"layers": json.dumps(layers or list(tensors))})


@pytest.mark.parametrize(
    "problem, tensors, layers, message",
    [
        ("missing", {"a": torch.zeros(4, 3, dtype=torch.float64)}, ["a", "b"], r"layer\(s\) b listed .* missing"),
        (
            "nan",
            {"a": torch.ones(4, 3, dtype=torch.float64), "b": torch.tensor([[1.0, math.nan]], dtype=torch.float64)},
            None,
            "layer b holds NaN or Inf",
        ),
        ("inf", {"a": torch.full((2, 2), math.inf, dtype=torch.float64)}, None, "layer a holds NaN or Inf"),
        (
            "dtype",
            {"a": torch.ones(4, 3, dtype=torch.float64), "b": torch.ones(4, 3)},
            None,
            "layer b is F32, expected torch.float64",
        ),
    ],
)
def test_bad_dump_names_file_and_layer(tmp_path, problem, tensors, layers, message):
    dump = tmp_path / f"{problem}.safetensors"
    write_dump(dump, tensors, layers)
    with pytest.raises(svd.DumpError, match=message) as error:
        svd.analyse(dump)
    assert str(dump) in str(error.value)
