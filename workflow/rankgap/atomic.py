"""Files written whole or not at all: a killed job never leaves a half-written output behind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def written(path: Path) -> Iterator[Path]:
    """The path to write ``path``'s content to: ``path`` + ``.partial``, renamed to ``path`` (one atomic
    step) when the block ends, and removed if it fails."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
