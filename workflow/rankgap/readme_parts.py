"""A published part as its README reads it (publication_layout.py, step 2): what every kind of part
has (``Part``: its data folder, the config it copied, its provenance) and the per-layer summary both
kinds print.  The kinds: a table of the paper (table_part.py) and a remedy comparison
(comparison_part.py), the objects the templates of workflow/templates/ take their every number from.
Each reads the part's data folder alone, and takes anew from it what today's code concludes (the
claims' verdicts, a comparison's analysis), so that a README follows from the CSVs beside it
whatever code published them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import yaml

from .measures import MEASURES, per_layer
from .publication_layout import DATA
from .publication_provenance import Provenance
from .templates import markdown


@dataclasses.dataclass
class Part:
    """A published part's data folder, the config it copied and its provenance."""

    name: str
    folder: Path
    config: dict

    @classmethod
    def read(cls, folder: Path, name: str):
        data = Path(folder) / name / DATA
        return cls(name, data, yaml.safe_load((data / "config.yaml").read_text()))

    @property
    def provenance(self) -> Provenance:
        return Provenance(json.loads((self.folder / "provenance.json").read_text()))


def layer_summary(measured: pd.DataFrame, columns: dict[str, pd.Series], measure: str, threshold: float) -> str:
    """A markdown table of one spectrum measure per layer (its modes combined) and for every layer
    together: a column per selection of runs and probe epochs (``columns``: a boolean mask over
    ``measured``'s rows, by heading), each cell the mean ± sd over the seeds selected."""
    shown = {}
    for heading, mask in columns.items():
        rows = measured[mask]
        if rows.empty:
            continue
        layers = per_layer(rows, threshold)
        values = layers.groupby(["depth", "layer"], sort=True)[measure]
        spec = MEASURES[measure].number_format
        shown[heading] = {
            layer: spec.format(mean) + ("" if pd.isna(sd) else f" ± {spec.format(sd)}")
            for (_, layer), mean, sd in zip(values.mean().index, values.mean(), values.std())
        }
    if not shown:
        return "(no measures published)"
    frame = pd.DataFrame(shown)
    frame.index.name = "layer"
    return markdown(frame.reset_index(), disable_numparse=True)
