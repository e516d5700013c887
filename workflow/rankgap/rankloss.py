"""Near-rank loss: how many of each layer's singular values (svd.py) fall at or below a threshold,
and what that count is made of.  Apart from the SVDs, so that editing a count reruns no SVD."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

# what a paper-style count is made of (run_counts), and the values an SVD never reports beside it
COMPONENTS = ["deficit", "dead_zeros", "other_zeros", "genuine"]


def run_counts(
    spectra: pd.DataFrame, modes: pd.DataFrame, thresholds: list[float], relative: bool = False
) -> pd.DataFrame:
    """Per layer, mode and threshold: the paper-style count and what it is made of.

    ``count`` is the number of reported singular values <= t (t * sigma_max if ``relative``), as the
    paper counts.  It splits into ``zeros``, the values at or below the rank tolerance
    max(m, n) * eps * sigma_max (zero to working precision), of which ``dead_zeros`` are forced by
    all-zero rows or columns (units never active, dead samples) and ``other_zeros`` are exact rank
    deficiency of another kind (a rank capped by a narrower input, say), and ``genuine``: above the
    tolerance, at or below the threshold.  count = dead_zeros + other_zeros + genuine.
    ``deficit`` (values an SVD of a wide unfolding never reports) is beside the count, not in it.
    """
    keys = ["layer", "depth", "mode"]
    columns = keys + ["threshold", "count", "zeros", "values", *COMPONENTS, "dead_units"]
    if spectra.empty:
        return pd.DataFrame(columns=columns)
    merged = spectra.merge(modes[keys + ["tolerance", "sigma_max"]], on=keys)
    rows = []
    for threshold in thresholds:
        limit = threshold * merged["sigma_max"] if relative else threshold
        flags = pd.DataFrame(
            {"count": merged["sigma"] <= limit, "zeros": merged["sigma"] <= np.minimum(merged["tolerance"], limit)}
        )
        counts = flags.groupby([merged[k] for k in keys], sort=False).sum().reset_index()
        rows.append(counts.assign(threshold=threshold))
    counts = pd.concat(rows, ignore_index=True).merge(
        modes[keys + ["values", "deficit", "dead_zeros", "dead_units"]], on=keys, how="left"
    )
    counts["dead_zeros"] = np.minimum(counts["dead_zeros"], counts["zeros"])  # exact zeros, unless t < 0
    counts["other_zeros"] = counts["zeros"] - counts["dead_zeros"]
    counts["genuine"] = counts["count"] - counts["zeros"]
    return counts[columns]


RANKLOSS_KEYS = ["experiment", "dataset", "batch_size", "seed", "epoch", "probe", "status"]  # rankloss.csv's first


def experiment_counts(probes: list[dict], thresholds: list[float], relative: bool) -> pd.DataFrame:
    """The counts of every probe of an experiment (rankloss.csv): ``run_counts`` of each probe's
    spectra and modes, beside its wildcards and its run's status.  ``probes``: per probe, its
    ``wildcards`` and its files, ``spectra``, ``modes`` and its run's ``summary``.  A run that did
    not finish has no spectra: one row of NaN keeps its status visible."""
    counted = []
    for probe in probes:
        status = json.loads(Path(probe["summary"]).read_text())["status"]
        counts = run_counts(pd.read_csv(probe["spectra"]), pd.read_csv(probe["modes"]), thresholds, relative)
        if counts.empty:
            counts = pd.DataFrame([dict.fromkeys(counts.columns, float("nan"))])
        counted.append(counts.assign(**probe["wildcards"], status=status))
    table = pd.concat(counted, ignore_index=True)
    return table[RANKLOSS_KEYS + [c for c in table.columns if c not in RANKLOSS_KEYS]]


def total_counts(rankloss: pd.DataFrame, threshold: float, probe: str, last_epoch_only: bool = True) -> pd.DataFrame:
    """Paper-style count and its components per run and probe epoch at ``threshold``, summed over
    layers and modes, on one ``probe`` (the paper's: its probe batch); NaN for runs that did not
    finish ok."""
    rows = rankloss[rankloss["probe"] == probe]
    rows = rows[(rows["threshold"] == threshold) | rows["threshold"].isna()]
    if last_epoch_only:
        rows = rows[rows["epoch"] == rows.groupby(["dataset", "batch_size", "seed"])["epoch"].transform("max")]
    keys = ["dataset", "batch_size", "seed", "epoch", "status"]
    summed = ["count", *COMPONENTS]
    return rows.groupby(keys, sort=False, dropna=False)[summed].sum(min_count=1).reset_index()
