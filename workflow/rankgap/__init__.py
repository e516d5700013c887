"""rankgap: near-rank loss of activations against batch size (Oyedotun, Papadopoulos, Aouada).

One module per subject; docs/pipeline.md lists them, stage by stage, and docs/reruns.md the rules
each one's edit reruns.  Not listed here: every job imports this file, so an edit of it reruns every
rule.  Beside the pipeline: ``api`` (measure your own model: ``rankgap.measure``) and ``cli`` (its
command line, ``rankgap-measure``).
"""

import importlib
import logging
import sys

API = ("measure", "Measurement")  # rankgap.measure, rankgap.Measurement: from rankgap.api


def __getattr__(name: str):
    """``rankgap.measure`` and ``rankgap.Measurement``, imported from ``api`` on first use.

    Not an ``import`` statement, for two reasons: the Snakefile imports the package while it parses
    the workflow and stays torch-free (``api`` imports torch); and a rule reruns when a module its
    script reaches through ``import`` statements changes (code_hash.py), every script reaches this
    file, and no rule uses the API, so an edit of the API reruns nothing.
    """
    if name in API:
        return getattr(importlib.import_module(f"{__name__}.api"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def log_to(path) -> logging.Logger:
    """Send this process's log records (and uncaught errors) to a rule's log file."""
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)

    def excepthook(kind, value, traceback):
        root.error("failed", exc_info=(kind, value, traceback))
        sys.__excepthook__(kind, value, traceback)

    sys.excepthook = excepthook
    return root
