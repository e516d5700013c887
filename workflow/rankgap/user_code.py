"""A user's own Python code: the module a config's model factory or ``rankgap-measure --factory``
names, and the classes of a whole pickled model.

A module is looked for under the working directory first (``examples.tiny_cnn`` is
``examples/tiny_cnn.py`` or ``examples/tiny_cnn/__init__.py``), as ``python -m`` would find it, and
loaded from its file; otherwise it is imported from the installed packages.  Loading by path keeps
``sys.path`` as it is: a pipeline job's script, or the ``rankgap-measure`` console script, does not
have the working directory on it.
"""

from __future__ import annotations

import importlib
import importlib.util
import pickle
import sys
from pathlib import Path
from types import ModuleType


def module_file(name: str) -> Path | None:
    """The file of module ``name`` under the working directory, or None."""
    base = Path.cwd().joinpath(*name.split("."))
    return next((path for path in (base.with_suffix(".py"), base / "__init__.py") if path.is_file()), None)


def import_module(name: str) -> ModuleType:
    """Module ``name``: from its file under the working directory, or installed."""
    if name in sys.modules:
        return sys.modules[name]
    path = module_file(name)
    if path is None:
        return importlib.import_module(name)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it, as an import does (and pickle looks it up there)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def import_function(spec: str):
    """The function ``MODULE:FUNCTION`` names, e.g. ``torchvision.models:resnet18``.  Raises
    ImportError or ValueError saying what is wrong."""
    module_name, _, function = spec.partition(":")
    if not module_name or not function:
        raise ValueError(f"'{spec}' is not MODULE:FUNCTION, e.g. torchvision.models:resnet18")
    try:
        module = import_module(module_name)
    except ImportError as error:
        raise ImportError(
            f"cannot import {module_name} ({error}); it must be installed or under the working directory ({Path.cwd()})"
        ) from error
    factory = getattr(module, function, None)
    if not callable(factory):
        raise ValueError(f"{module_name} has no function {function}")
    return factory


class Unpickler(pickle.Unpickler):
    """Unpickles classes from the user's modules too (``torch.load(..., pickle_module=user_code)``)."""

    def find_class(self, module: str, name: str):
        if module not in sys.modules and module_file(module):
            import_module(module)
        return super().find_class(module, name)


load = pickle.load  # with Unpickler: what torch.load needs of a pickle_module
