"""What ``rankgap.measure`` returns (``Measurement``): the pipeline's tables for one model and one
batch, and the views of them a reader looks at first (``print``, ``summary()``, ``totals()``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import rankloss

PARTS = [c for c in rankloss.COMPONENTS if c != "deficit"]  # the count's parts: dead_zeros + other_zeros + genuine
COUNTED, NOT_COUNTED = "count", "not in the count"  # totals()'s column groups
SHOWN = 8  # layers print(result) shows in full; beyond, its first and last ones


@dataclass(repr=False)
class Measurement:
    """What ``measure`` returns: the pipeline's tables for one model and one batch.

    ``print(result)`` says in a few lines what was measured (the model's class, its layers, the
    batch's shape, the mode and the thresholds) and the headline numbers per layer, ``summary()``'s
    (up to 8 layers; beyond, the first and last ones).  ``summary()``: per layer, one row: the count
    per threshold, its genuine part, the effective rank.  ``totals()``: per threshold, over every
    layer and mode, the count and its parts, the structural deficit apart from them.  ``spectra``,
    ``modes`` and ``counts``: the pipeline's tables, in full.
    """

    spectra: pd.DataFrame  # every singular value: layer, depth, mode, index, sigma (as spectra.csv)
    modes: pd.DataFrame  # per layer and mode: shape, deficit, all-zero lines, tolerance, sigma_max... (as modes.csv)
    # per layer, mode and threshold (rankloss.csv's columns): the count, its parts (dead_zeros +
    # other_zeros + genuine = count) and the structural deficit beside it, not in it
    counts: pd.DataFrame
    model: str | None = None  # the measured model's class
    batch_shape: tuple[int, ...] | str | None = None  # the batch's, as given (its tensors' when several)
    mode: str = "eval"
    thresholds: tuple[float, ...] | None = None  # default: those of ``counts``
    relative: bool = False  # thresholds times sigma_max of each unfolding

    def _thresholds(self) -> list[float]:
        return list(self.thresholds) if self.thresholds is not None else list(self.counts["threshold"].unique())

    def _at(self, threshold: float) -> str:
        return f"@{threshold:g}" + ("*sigma_max" if self.relative else "")

    def summary(self) -> pd.DataFrame:
        """One row per layer, in forward order, its modes combined as the pipeline combines them per
        layer: ``modes`` (how many), ``values`` (singular values reported, summed over the modes),
        per threshold ``count@T`` (values at or below T; ``@T*sigma_max`` when relative) and
        ``genuine@T`` (its part above the rank tolerance: near-rank loss proper), and
        ``effective_rank`` (summed over the modes).  Per mode: ``counts`` and ``modes``."""
        per_mode = self.modes.groupby("layer", sort=False)
        table = pd.DataFrame({"modes": per_mode.size(), "values": per_mode["values"].sum()})
        by_threshold = {
            t: rows.groupby("layer", sort=False) for t, rows in self.counts.groupby("threshold", sort=False)
        }
        for column in ("count", "genuine"):
            for threshold, rows in by_threshold.items():
                table[column + self._at(threshold)] = rows[column].sum()
        table["effective_rank"] = per_mode["effective_rank"].sum()
        return table.rename_axis("layer").reset_index()

    def totals(self) -> pd.DataFrame:
        """Per threshold (the index), summed over every layer and mode: under ``count``, the
        ``total`` (the paper's count, what the pipeline's figures plot) and its parts, which add up to
        it (``dead_zeros + other_zeros + genuine = total``); under ``not in the count``, the
        structural ``deficit`` (values an SVD of a wide unfolding never reports), which is no part
        of it.  ``totals()["count", "total"]``: the counts alone."""
        summed = self.counts.groupby("threshold", sort=False)[["count", *PARTS, "deficit"]].sum()
        columns = pd.MultiIndex.from_tuples(
            [(COUNTED, "total"), *((COUNTED, part) for part in PARTS), (NOT_COUNTED, "deficit")]
        )
        return pd.DataFrame(summed.to_numpy(), index=summed.index, columns=columns)

    def __repr__(self) -> str:
        layers = self.modes["layer"].unique()
        thresholds = ", ".join(f"{t:g}" for t in self._thresholds())
        thresholds += " (times sigma_max of each unfolding)" if self.relative else ""
        shape = "" if self.batch_shape is None else f", batch {self.batch_shape}"
        table = self.summary().drop(columns=["modes", "values"])
        table["effective_rank"] = table["effective_rank"].map("{:.1f}".format)
        table = table.astype(object)  # counts stay integers beside the row that says how many are left out
        if len(table) > SHOWN:
            head, tail = SHOWN // 2, SHOWN // 2 - 1
            more = pd.DataFrame([{"layer": f"... {len(table) - head - tail} more"}], dtype=object)
            table = pd.concat([table.head(head), more, table.tail(tail)], ignore_index=True)
        if self.relative:  # said once, on the first line
            table = table.rename(columns=lambda column: column.removesuffix("*sigma_max"))
        shown = "\n".join(line.rstrip() for line in table.to_string(index=False, na_rep="").splitlines())
        return (
            f"Measurement of {self.model or 'a model'}: {len(layers)} layer{'' if len(layers) == 1 else 's'}{shape}, "
            f"{self.mode} mode, "
            f"thresholds {thresholds}\n"
            "per layer, over its modes (count = dead_zeros + other_zeros + genuine):\n"
            f"{shown}\n"
            "tables: .summary(), .totals(), .counts, .modes, .spectra"
        )

    def save(self, folder: Path) -> list[Path]:
        """Write spectra.csv, modes.csv and counts.csv into ``folder``, as the pipeline writes its tables."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / "spectra.csv", folder / "modes.csv", folder / "counts.csv"]
        self.spectra.to_csv(paths[0], index=False, float_format="%.17g")
        self.modes.to_csv(paths[1], index=False, float_format="%.17g")
        self.counts.to_csv(paths[2], index=False)
        return paths
