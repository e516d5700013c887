"""Prose rendered from data: the Jinja2 environment of workflow/templates/, the filters its
templates format numbers with and the markdown tables they show, so that every number in a
published or reported text is a field."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

if TYPE_CHECKING:
    import pandas as pd

FILTERS = {
    "num": lambda value, spec=".2f": "n/a" if value is None or math.isnan(value) else format(value, spec),
    "signed": lambda value, spec=".2f": format(value, "+" + spec),
    "rho": lambda value: "n/a" if math.isnan(value) else f"{value:+.2f}",
    "p": lambda value: "n/a" if math.isnan(value) else f"{value:.2g}",
    "percent": lambda value: f"{value:.0%}",  # a level such as 0.05: 5%
    "mean": lambda values: sum(values) / len(values) if len(values) else math.nan,
    "join_numbers": lambda values, spec=".2f": ", ".join(format(v, spec) for v in values),
    # 'a to b', or 'a in every condition' where they agree
    "span": lambda values, spec=".4g", where="in every condition": (
        f"{min(values):{spec}} {where}"
        if min(values) == max(values)
        else f"{min(values):{spec}} to {max(values):{spec}}"
    ),
    "sci": lambda value: f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e+"),  # 5e-4, as configs write it
}


def environment(templates: list[Path]) -> jinja2.Environment:
    """Jinja2 over the folders of ``templates``: a missing field is an error, not an empty string."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(sorted({str(Path(t).parent) for t in templates})),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def render(template: Path, **fields) -> str:
    """One template filled with ``fields``."""
    return environment([template]).get_template(Path(template).name).render(fields)


def markdown(frame: pd.DataFrame, **options) -> str:
    """A frame as a README's table, a missing value (no trend for it, no comparable run) as n/a."""
    if not len(frame):
        return "(none)"
    return frame.astype(object).where(frame.notna(), None).to_markdown(index=False, missingval="n/a", **options)
