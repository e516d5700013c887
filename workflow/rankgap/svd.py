"""The singular values of each layer's output (the SVDs): what rankloss.py counts and measures.py measures.

A fully connected layer's output is one matrix (batch x units): its singular values.  An output of
higher order is a tensor: a conv layer's is batch x channel x height x width, the paper's case, a
transformer's batch x tokens x hidden, a Conv1d's batch x channel x length, a Conv3d's batch x
channel x depth x height x width.  The paper uses the HOSVD, whose mode-n singular values are the
singular values of the mode-n unfoldings (``tensorly.unfold``), so every layer contributes one
spectrum per mode (``mode_names``).

Precision: everything is float64.  An SVD is backward stable: it resolves singular values down to
about eps * sigma_max.  In float64 that is ~1e-16 * sigma_max, far below the paper's thresholds
(1e-4, 1e-5); in float32 it is ~1e-7 * sigma_max, and sigma_max runs into the thousands.

Speed and memory: LAPACK gets the tall orientation of each unfolding (a wide one is several times
slower).  Very tall unfoldings (the channel and spatial modes, whose rows run over batch x pixels)
are reduced block by block with a streaming QR (TSQR) and the SVD taken of the small R factor: the
same arithmetic LAPACK does internally for tall matrices, without ever materialising the unfolding.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import tensorly as tl
import torch

tl.set_backend("pytorch")

# The modes of an output, by its number of dimensions: a matrix's one (its transpose has the same
# singular values); the paper's conv outputs and Conv3d's by their axes; any other order by position
# (for a token sequence, batch x tokens x hidden: axis1 the tokens, axis2 the hidden units;
# docs/rank_analysis.md)
NAMED_MODES = {
    2: ("batch",),
    4: ("batch", "channel", "height", "width"),
    5: ("batch", "channel", "depth", "height", "width"),
}


def mode_names(ndim: int) -> tuple[str, ...]:
    """The names of the modes of an output with ``ndim`` dimensions (at least 2), batch first."""
    if ndim < 2:
        raise ValueError(f"an output of {ndim} dimension(s) has no batch x features unfolding: at least 2 are needed")
    return NAMED_MODES.get(ndim, ("batch", *(f"axis{i}" for i in range(1, ndim))))


STREAM_RATIO = 4  # unfoldings at least this many times taller than wide go through TSQR
# Streaming-QR blocks: at least BLOCK_WIDTHS times as tall as the unfolding is wide (so the QR of
# each block plus the running R factor costs at most 25% more arithmetic than one QR of the whole),
# and at least BLOCK_ELEMENTS values for thin unfoldings (few, large blocks); a block's copies stay
# well below the layer's own size.
BLOCK_WIDTHS = 4
BLOCK_ELEMENTS = 1 << 21
CHECK_ELEMENTS = 1 << 24  # values per chunk of the NaN/Inf check (finite())


MODE_COLUMNS = [
    "layer",
    "depth",
    "mode",
    "dim",
    "rest",
    "values",
    "deficit",
    "zero_rows",
    "zero_cols",
    "dead_zeros",
    "dead_units",
    "tolerance",
    "sigma_max",
    "sigma_min",
    "condition",
    "effective_rank",
]


class DumpError(ValueError):
    pass


def row_blocks(x: torch.Tensor, mode: int, block_rows: int):
    """(first row, block) over the tall orientation of the mode-``mode`` unfolding of ``x``."""
    if mode == 0:
        matrix = x.reshape(len(x), -1)
        if matrix.shape[0] < matrix.shape[1]:
            matrix = matrix.T
        for start in range(0, matrix.shape[0], block_rows):
            yield start, matrix[start : start + block_rows]
    else:
        # The mode's own dimension is small; rows of the transposed unfolding follow the batch
        # axis, so a slice of the batch is a contiguous block of rows.
        rows_per_image = x[0].numel() // x.shape[mode]
        images = max(1, block_rows // rows_per_image)
        for start in range(0, len(x), images):
            yield start * rows_per_image, tl.unfold(x[start : start + images], mode).T


def mode_shape(x: torch.Tensor, mode: int) -> tuple[int, int]:
    """(the mode's dimension, the product of the others): the mode-n unfolding's shape."""
    return x.shape[mode], x.numel() // x.shape[mode]


def zero_lines(x: torch.Tensor, mode: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks of the all-zero rows and columns of the mode-``mode`` unfolding: for the batch mode,
    samples whose whole output is zero and units never active on the batch; for the channel mode,
    dead channels and positions where every channel is zero."""
    nonzero = x != 0
    rows = nonzero.movedim(mode, 0).reshape(x.shape[mode], -1).any(1)
    cols = nonzero.any(mode).reshape(-1)
    return ~rows, ~cols


def singular_values(x: torch.Tensor, mode: int, zeros=None) -> torch.Tensor:
    """Mode-``mode`` singular values of ``x``, descending, in x's dtype and on x's device.

    All-zero rows and columns of the unfolding are left out of the SVD and their singular values
    appended as exact zeros: the rest of the spectrum is the same, the SVD smaller.
    """
    dim, rest = mode_shape(x, mode)
    values = min(dim, rest)
    zero_rows, zero_cols = zeros if zeros is not None else zero_lines(x, mode)
    if mode != 0 and dim > rest:  # a mode wider than the rest of the tensor: tiny, direct
        return torch.linalg.svdvals(tl.unfold(x, mode))
    # in the tall orientation, which lines are kept
    keep_rows, keep_cols = (~zero_rows, ~zero_cols) if dim >= rest else (~zero_cols, ~zero_rows)
    kept_rows, kept_cols = int(keep_rows.sum()), int(keep_cols.sum())
    rows, cols = max(dim, rest), min(dim, rest)
    if min(kept_rows, kept_cols) == 0:
        return torch.zeros(values, dtype=x.dtype, device=x.device)

    def reduced(start, block):
        """The block without its all-zero lines; copies only what it must, column-major for LAPACK."""
        if kept_cols < cols:
            block = block.T[keep_cols].T
        rows_kept = keep_rows[start : start + len(block)]
        return block if bool(rows_kept.all()) else block.T[:, rows_kept].T

    if kept_rows < STREAM_RATIO * kept_cols:  # near square: one SVD of the whole (a view if nothing is zero)
        sigma = torch.linalg.svdvals(reduced(*next(row_blocks(x, mode, rows))))
    else:
        r = None
        for start, block in row_blocks(x, mode, max(BLOCK_WIDTHS * cols, BLOCK_ELEMENTS // cols)):
            block = reduced(start, block)
            r = torch.linalg.qr(block if r is None else torch.cat([r, block]), mode="r").R
        sigma = torch.linalg.svdvals(r)
    return torch.cat([sigma, sigma.new_zeros(values - len(sigma))])


def effective_rank(sigma: np.ndarray) -> float:
    """RankMe (Garrido et al. 2023): exp of the entropy of the normalised singular values; 0 for
    none that is positive."""
    total = sigma.sum()
    if total <= 0:
        return 0.0
    p = sigma[sigma > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))


def finite(x: torch.Tensor) -> bool:
    """Whether every value of ``x`` is finite, checked by chunks: isfinite() of a whole layer takes
    another layer's memory."""
    return all(torch.isfinite(chunk).all() for chunk in x.reshape(-1).split(CHECK_ELEMENTS))


SAFETENSORS_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def dump_metadata(path: Path) -> dict[str, str]:
    """A dump's metadata (probe.dump's: its layers, status, probe, the probe's record...)."""
    with open(path, "rb") as f:
        header_size = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(header_size)).get("__metadata__", {})


def read_layers(path: Path, dtype: torch.dtype = torch.float64):
    """Yield (depth, name, tensor) from a dump, in forward order, one layer at a time, checked: every
    listed layer present, of ``dtype``, finite.

    Each layer's bytes are read straight into one tensor (no memory map), so memory holds one
    layer at a time rather than every page of the file the analysis has touched.
    """
    path = Path(path)
    with open(path, "rb") as f:
        header_size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_size))
        names = json.loads(header.get("__metadata__", {}).get("layers", "[]"))
        missing = [n for n in names if n not in header]
        if missing:
            raise DumpError(f"{path}: layer(s) {', '.join(missing)} listed in the dump's metadata are missing")
        for depth, name in enumerate(names):
            entry = header[name]
            if SAFETENSORS_DTYPES.get(entry["dtype"]) != dtype:
                raise DumpError(f"{path}: layer {name} is {entry['dtype']}, expected {dtype} (re-run the dump)")
            if len(entry["shape"]) < 2:
                raise DumpError(
                    f"{path}: layer {name} has {len(entry['shape'])} dimension(s); "
                    "only batch x features outputs (2 dimensions or more) are analysed"
                )
            begin, end = entry["data_offsets"]
            x = torch.empty(entry["shape"], dtype=dtype)
            f.seek(8 + header_size + begin)
            if f.readinto(x.numpy().reshape(-1).view(np.uint8)) != end - begin:
                raise DumpError(f"{path}: layer {name} is truncated")
            if not finite(x):
                raise DumpError(f"{path}: layer {name} holds NaN or Inf values")
            yield depth, name, x
            del x  # before the next layer is read: never two layers in memory


def analyse(path: Path, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64):
    """Spectra of every layer and mode of a dump, layer by layer: see ``analyse_layers``."""
    return analyse_layers(read_layers(path, dtype), device, dtype)


SPECTRA_COLUMNS = ["layer", "depth", "mode", "index", "sigma"]


def analyse_layer(
    depth: int,
    name: str,
    x: torch.Tensor,
    dtype: torch.dtype = torch.float64,
    axes: tuple[str, ...] | None = None,
    only: tuple[int, ...] | None = None,
) -> tuple[list[pd.DataFrame], list[dict]]:
    """One layer's spectra, a frame per mode, and its rows of the modes table, on x's device.
    ``axes``: names for the non-batch modes of an output of their number plus one dimensions
    (default ``mode_names``); ``only``: the modes to analyse (default every one)."""
    names = ("batch", *axes) if axes and len(axes) == x.ndim - 1 else mode_names(x.ndim)
    spectra, modes = [], []
    for mode, mode_name in enumerate(names):
        if only is not None and mode not in only:
            continue
        zero_rows, zero_cols = zero_lines(x, mode)
        sigma = singular_values(x, mode, (zero_rows, zero_cols)).cpu().numpy()
        dim, rest = mode_shape(x, mode)
        spectra.append(
            pd.DataFrame(
                {"layer": name, "depth": depth, "mode": mode_name, "index": np.arange(len(sigma)), "sigma": sigma}
            )
        )
        modes.append(
            {
                "layer": name,
                "depth": depth,
                "mode": mode_name,
                "dim": dim,
                "rest": rest,
                "values": len(sigma),
                # values an SVD of the wide unfolding never reports (e.g. batch > units)
                "deficit": max(0, dim - rest),
                # all-zero rows / columns of the unfolding, e.g. units never active on the probe batch
                "zero_rows": int(zero_rows.sum()),
                "zero_cols": int(zero_cols.sum()),
                # exact zeros those lines force: the rank can be at most the smaller of what is left
                "dead_zeros": len(sigma) - min(dim - int(zero_rows.sum()), rest - int(zero_cols.sum())),
                # the fraction of units never active on the probe batch (batch mode: columns are units)
                "dead_units": float(zero_cols.sum()) / rest if mode == 0 else float("nan"),
                # the usual rank tolerance: values below it are zeros to working precision
                "tolerance": max(dim, rest) * torch.finfo(dtype).eps * float(sigma[0]),
                "sigma_max": float(sigma[0]),
                "sigma_min": float(sigma[-1]),
                "condition": float(sigma[0] / sigma[-1]) if sigma[-1] > 0 else float("inf"),
                "effective_rank": effective_rank(sigma),
            }
        )
    return spectra, modes


def spectrum_tables(spectra: list[pd.DataFrame], modes: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The spectra and modes tables of the layers analysed (empty, with their columns, for none)."""
    if not spectra:  # a diverged run's dump has no layers
        return pd.DataFrame(columns=SPECTRA_COLUMNS), pd.DataFrame(columns=MODE_COLUMNS)
    return pd.concat(spectra, ignore_index=True), pd.DataFrame(modes, columns=MODE_COLUMNS)


def analyse_layers(layers, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64):
    """Spectra of every layer and mode of ``layers``, (depth, name, tensor) in forward order, taken
    one at a time: a generator that makes each layer only when asked keeps one in memory.

    Returns (spectra, modes): a tidy table of singular values (layer, depth, mode, index, sigma) and
    one row per layer and mode with its shape and summary statistics.
    """
    spectra, modes = [], []
    # no enumerate() around the layers: it would keep the last layer alive while the next is made
    for depth, name, x in layers:
        layer_spectra, layer_modes = analyse_layer(depth, name, x.to(device), dtype)
        spectra += layer_spectra
        modes += layer_modes
        del x
    return spectrum_tables(spectra, modes)
