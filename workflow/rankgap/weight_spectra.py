"""Weight spectra, a rival explanation of the gap: heavy-tailed self-regularisation (Martin &
Mahoney), measured with their maintained library, WeightWatcher, rather than our own code.

Per conv and linear layer: ``alpha``, the exponent of a power law fitted to the tail of the
eigenvalues of W'W (smaller: heavier tail, said to generalise better), and ``stable_rank``,
||W||_F^2 / ||W||_2^2.  Conv layers follow WeightWatcher's convention: each kernel position is an
(out x in) matrix and their eigenvalues are pooled.  ``summary`` averages over layers, as
WeightWatcher's own ``get_summary`` does.

Precision: WeightWatcher turns a torch tensor into float32 on a machine without a GPU and into
float16 on one with a GPU (``RMT_Util.torch_T_to_np``, chosen when it is imported), and by default
takes its SVDs on the GPU in float32.  So the weights are handed over as a dict of float64 NumPy
arrays (which it keeps as they are), its SVDs are asked for with ``svd_method="accurate"`` (SciPy,
float64), and the process must not see a GPU when it imports WeightWatcher (the rule's script
hides them), or ``analyze`` refuses.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import torch

from . import status

COLUMNS = [
    "layer",
    "layer_type",
    "N",
    "M",
    "rf",
    "num_evals",
    "alpha",
    "alpha_weighted",
    "D",
    "stable_rank",
    "sv_max",
    "matrix_rank",
    "warning",
]
SUMMARY = ["alpha", "stable_rank"]


def analyze(state: dict[str, torch.Tensor]) -> pd.DataFrame:
    """WeightWatcher's per-layer metrics (COLUMNS) of the conv and linear weights of a state dict,
    in float64 on the CPU."""
    import weightwatcher  # slow to import, and only this rule needs it
    from weightwatcher import RMT_Util, constants

    if RMT_Util.EPSILON != constants.EPSILON:
        raise RuntimeError(
            "WeightWatcher was imported with a GPU visible and switched to float16 precision; "
            "import it with no GPU visible (CUDA_VISIBLE_DEVICES='')"
        )
    matrices = {
        name: tensor.detach().to("cpu", torch.float64).numpy()
        for name, tensor in state.items()
        if name.endswith(".weight") and tensor.ndim in (2, 4)
    }  # conv and linear, not batch norm
    watcher = weightwatcher.WeightWatcher(model=matrices)
    details = watcher.analyze(svd_method="accurate", plot=False, savefig=False)
    return details.rename(columns={"name": "layer"})[COLUMNS]


def summary(layers: pd.DataFrame) -> dict[str, float]:
    """Mean alpha and stable rank over the layers (NaN for a run without weights)."""
    return {f"weight_{metric}": float(layers[metric].mean()) if len(layers) else math.nan for metric in SUMMARY}


def of_weights(weights_path: Path, out: Path) -> pd.DataFrame:
    """Write the per-layer metrics of one run's final weights (CSV; no rows for a diverged run)."""
    weights = torch.load(weights_path, map_location="cpu", weights_only=False)
    layers = analyze(weights["state"]) if status.of(weights) == status.OK else pd.DataFrame(columns=COLUMNS)
    layers.to_csv(out, index=False)
    return layers
