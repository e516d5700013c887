"""Scale-invariant measures of the probed activations, beside the paper's count.

The paper counts the singular values at or below an absolute threshold, so its count moves with
the scale of the activations, and at LeNet-5's scale it is made of dead units and exact zeros
(docs/rank_analysis.md). Two measures of the same spectra that a rescaling leaves alone:

- the **effective rank** of each layer and mode (``rank.effective_rank``: the exponential of the
  entropy of the normalised singular values) as a fraction of the values its SVD reports, averaged
  over the layers and modes: 1 when every direction carries equal weight, near 0 when a few do;
- the **relative count**: the singular values at or below t times the unfolding's largest
  (``rank.run_counts`` with ``relative``), summed over the layers and modes, at each threshold t.

If large batches lose rank, as the paper holds, the first falls and the second grows with batch size.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from . import rank

MEASURES = ["relative_count", "effective_rank_fraction"]
COLUMNS = [*rank.RANKLOSS_KEYS, "threshold", *MEASURES]


def probe_measures(spectra: pd.DataFrame, modes: pd.DataFrame, thresholds: list[float]) -> pd.DataFrame:
    """One probe's measures, one row per threshold (NaN for a probe without spectra)."""
    if spectra.empty:
        return pd.DataFrame({"threshold": thresholds, **dict.fromkeys(MEASURES, math.nan)})
    relative = rank.run_counts(spectra, modes, thresholds, relative=True).groupby("threshold")["count"].sum()
    return pd.DataFrame(
        {
            "threshold": thresholds,
            "relative_count": relative.reindex(thresholds).to_numpy(),
            "effective_rank_fraction": (modes["effective_rank"] / modes["values"]).mean(),
        }
    )


def experiment_measures(probes: list[dict], thresholds: list[float]) -> pd.DataFrame:
    """Every probe of an experiment (scale_invariant.csv, beside its rankloss.csv): ``probe_measures``
    beside the probe's wildcards and its run's status (``probes`` as ``rank.experiment_counts``)."""
    rows = []
    for probe in probes:
        measures = probe_measures(pd.read_csv(probe["spectra"]), pd.read_csv(probe["modes"]), thresholds)
        status = json.loads(Path(probe["summary"]).read_text())["status"]
        rows.append(measures.assign(**probe["wildcards"], status=status))
    return pd.concat(rows, ignore_index=True)[COLUMNS]


def last_epoch(measures: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per run: the measures at ``threshold`` at its last probe epoch (as ``rank.total_counts`` takes
    the count)."""
    rows = measures[measures["threshold"] == threshold]
    rows = rows[rows["epoch"] == rows.groupby(["dataset", "batch_size", "seed"])["epoch"].transform("max")]
    return rows[["dataset", "batch_size", "seed", *MEASURES]]
