"""rankgap: near-rank loss of activations against batch size (Oyedotun, Papadopoulos, Aouada).

One module per concept: ``data`` (datasets), ``models``, ``train``, ``device`` (a GPU, or a share of one, per job),
``activations`` (probe dumps), ``rank`` (spectra and counts), ``randmat`` (the appendix's random
matrices), ``tables`` and ``figures`` (the paper's artifacts), ``settings`` (config checks and
per-run settings).
"""

import logging
import sys


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
