"""The measures: one table (``MEASURES``) of everything the pipeline compares across batch sizes,
remedies and switch runs, each with its label, the direction the paper's thesis gives it, how it
prints, and how it is computed.

Two kinds.  A **spectrum** measure is computed per probe, layer and HOSVD mode from the singular
values of that mode's unfolding (``svd``), at each threshold when it has one, and combined over
the modes of a layer, or over every layer and mode, by its ``combine`` (a sum for counts, a mean for
fractions).  A **run** measure is one number per run's final weights, written by its own rule
(sharpness.json, weight_spectra.csv): the rival explanations of the gap.

Adding a measure is one entry below: the measures table of each probe (``probe_measures``), the
trend checks beside the paper (paper.py), the remedies comparison (remedies.py) and the answer to
which measure tracks the gap (tracking.py) all take it from here.

The direction (``thesis``) is what the paper's explanation predicts as the batch size grows: the
counts grow, the effective rank falls; the rival measures have none from the paper (two-sided).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .svd import effective_rank  # RankMe: the modes table's column too (spectra.csv's job)

GROWS, FALLS = "grows", "falls"
# a spectrum measure's columns besides its value: which probe, layer and mode, and the threshold
KEYS = ["experiment", "dataset", "batch_size", "seed", "epoch", "probe", "status"]
SPECTRUM_KEYS = ["layer", "depth", "mode", "values", "threshold"]


@dataclasses.dataclass(frozen=True)
class Measure:
    """One measure: ``label`` in words, ``thesis`` (GROWS, FALLS or None) what the paper's
    explanation says it does as the batch size grows, ``number_format`` how a value prints, and for
    a spectrum measure ``of_spectrum`` (sigma descending, the mode's rank tolerance, the threshold
    or None -> value), whether it has a ``threshold`` and how it ``combine``s over modes and layers."""

    name: str
    label: str
    thesis: str | None
    number_format: str
    of_spectrum: Callable[[np.ndarray, float, float | None], float] | None = None
    threshold: bool = False
    combine: str = "sum"

    @property
    def spectrum(self) -> bool:
        return self.of_spectrum is not None

    def shown(self, value: float) -> str:
        return "n/a" if pd.isna(value) else self.number_format.format(value)


MEASURES = {
    m.name: m
    for m in [
        Measure(
            "count",
            "near-rank loss (count)",
            GROWS,
            "{:g}",
            lambda sigma, tolerance, t: float((sigma <= t).sum()),
            threshold=True,
        ),
        Measure(
            "genuine",
            "genuine near-rank loss",
            GROWS,
            "{:g}",
            # above the rank tolerance (zero to working precision), at or below the threshold (rankloss.run_counts)
            lambda sigma, tolerance, t: float(((sigma <= t) & (sigma > min(tolerance, t))).sum()),
            threshold=True,
        ),
        Measure(
            "relative_count",
            "count at t·σmax",
            GROWS,
            "{:g}",
            lambda sigma, tolerance, t: float((sigma <= t * sigma.max()).sum()) if len(sigma) else 0.0,
            threshold=True,
        ),
        Measure(
            "effective_rank",
            "effective rank",
            FALLS,
            "{:.1f}",
            lambda sigma, tolerance, t: effective_rank(sigma),
        ),
        Measure(
            "effective_rank_fraction",
            "effective rank (fraction)",
            FALLS,
            "{:.4f}",
            lambda sigma, tolerance, t: effective_rank(sigma) / len(sigma) if len(sigma) else float("nan"),
            combine="mean",
        ),
        Measure("lambda_max", "Hessian λmax", None, "{:.4g}"),
        Measure("trace", "Hessian trace", None, "{:.4g}"),
        Measure("weight_alpha", "weight alpha (mean)", None, "{:.3f}"),
        Measure("weight_stable_rank", "weight stable rank (mean)", None, "{:.2f}"),
    ]
}
SPECTRUM_MEASURES = [name for name, m in MEASURES.items() if m.spectrum]
RUN_MEASURES = [name for name, m in MEASURES.items() if not m.spectrum]


def probe_measures(spectra: pd.DataFrame, modes: pd.DataFrame, thresholds: list[float]) -> pd.DataFrame:
    """Every spectrum measure of one probe: a row per layer, mode and threshold (threshold-free
    measures repeat on each), with the number of values the mode's SVD reports (``values``: the
    same for every run on a fixed probe).  No rows for a probe without spectra."""
    columns = [*SPECTRUM_KEYS, *SPECTRUM_MEASURES]
    if spectra.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    tolerance = modes.set_index(["layer", "mode"])["tolerance"]
    for (layer, depth, mode), group in spectra.groupby(["layer", "depth", "mode"], sort=False):
        sigma = np.sort(group["sigma"].to_numpy())[::-1]
        for t in thresholds:
            rows.append(
                {
                    "layer": layer,
                    "depth": depth,
                    "mode": mode,
                    "values": len(sigma),
                    "threshold": t,
                    **{
                        name: MEASURES[name].of_spectrum(sigma, tolerance[(layer, mode)], t)
                        for name in SPECTRUM_MEASURES
                    },
                }
            )
    return pd.DataFrame(rows, columns=columns)


def experiment_measures(probes: list[dict], thresholds: list[float]) -> pd.DataFrame:
    """Every probe of an experiment (measures.csv): ``probe_measures`` beside the probe's wildcards
    and its run's status.  ``probes``: per probe, its ``wildcards`` and its files (``spectra``,
    ``modes``, its run's ``summary``)."""
    frames = []
    for probe in probes:
        measured = probe_measures(pd.read_csv(probe["spectra"]), pd.read_csv(probe["modes"]), thresholds)
        status = json.loads(Path(probe["summary"]).read_text())["status"]
        frames.append(measured.assign(**probe["wildcards"], status=status))
    table = pd.concat(frames, ignore_index=True)
    return table[[*KEYS, *SPECTRUM_KEYS, *SPECTRUM_MEASURES]]


def combined(frame: pd.DataFrame, by: list[str], names: list[str] | None = None) -> pd.DataFrame:
    """Spectrum measures combined over the rows of each group of ``by`` (their layers and modes), each
    as its ``combine`` says; NaN where a group has no value."""
    names = [n for n in (names or SPECTRUM_MEASURES) if n in frame]
    groups = frame.groupby(by, sort=False, dropna=False)
    parts = [groups[n].sum(min_count=1) if MEASURES[n].combine == "sum" else groups[n].mean() for n in names]
    return pd.concat(parts, axis=1).reset_index()


ALL_LAYERS = "all"  # a layer name that stands for every layer and mode together


def per_layer(frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per run, probe epoch, probe and layer (its modes combined), and for every layer together
    (``layer`` ALL_LAYERS): the spectrum measures at ``threshold``."""
    rows = frame[frame["threshold"] == threshold]
    by_layer = combined(rows, [*KEYS, "layer", "depth"])
    together = combined(rows, KEYS).assign(layer=ALL_LAYERS, depth=len(by_layer["depth"].unique()))
    return pd.concat([by_layer, together], ignore_index=True)
