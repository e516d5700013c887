"""A run's status: ``ok``, or ``diverged`` when its training loss stopped being finite.

Its summary and weights file record it, and every later stage passes it on (a diverged run's weights
hold NaN: it has no spectra, and its tables and figures say why), so a failed run stays visible.
"""

from __future__ import annotations

from collections.abc import Iterable

OK, DIVERGED = "ok", "diverged"


def of(weights: dict) -> str:
    """A weights file's status; one saved without it (by hand, for ``rankgap-measure``) is ok."""
    return weights.get("status", OK)


def combined(statuses: Iterable[str]) -> str:
    """One status for several runs of a cell (its seeds): ok when all are, else the others'."""
    others = sorted(set(statuses) - {OK})
    return ", ".join(others) if others else OK
