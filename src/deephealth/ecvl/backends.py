"""Import optional back-ends from where pip installed them, so a user's file cannot shadow them.

pyecvl's own example scripts are named ``openslide.py``, ``dataset.py`` ... A script folder comes
first on ``sys.path``, so a plain ``import openslide`` run from such a folder would import the
user's script instead of openslide-python. :func:`import_installed` finds the module inside the
installed distribution's own folder (``importlib.metadata``) and loads it from there; a same-named
module already imported by the user keeps its name in ``sys.modules``. It also gives the feature
flags (``ECVL_EDDL``, ``ECVL_WITH_DICOM``, ``ECVL_WITH_OPENSLIDE``) without importing anything.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType

_LOCK = threading.Lock()


def installed(distribution: str) -> bool:
    """Whether the pip distribution ``distribution`` is installed (nothing is imported)."""
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _origin(mod: ModuleType) -> Path | None:
    f = getattr(mod, "__file__", None)
    return Path(f).resolve() if f else None


def import_installed(module: str, distribution: str, hint: str) -> ModuleType:
    """Import ``module`` from the folder where ``distribution`` is installed.

    Args:
        module: Top-level module name (``"openslide"``).
        distribution: The pip distribution that provides it (``"openslide-python"``).
        hint: What to install, used in the ImportError (``"pip install 'deephealth[slide]'"``).

    Returns:
        The installed module (the same object on every call).

    Raises:
        ImportError: The distribution is missing, or only a same-named file outside it (a user
            script) can be found; the message names both.
    """
    with _LOCK:
        if module in sys.modules and sys.modules[module] is None:  # blocked, as Python means it
            raise ImportError(f"{module} is blocked (sys.modules[{module!r}] is None): {hint}")
        try:
            root = Path(importlib.metadata.distribution(distribution).locate_file("")).resolve()
        except importlib.metadata.PackageNotFoundError:
            raise ImportError(f"{module} is not installed: {hint}") from None
        current = sys.modules.get(module)
        cur_origin = None if current is None else _origin(current)
        if current is not None and cur_origin is not None and root in cur_origin.parents:
            return current
        spec = importlib.machinery.PathFinder.find_spec(module, [str(root)])
        if spec is None or spec.loader is None:
            mod = importlib.import_module(module)  # e.g. an editable install outside ``root``
            where = _origin(mod)
            if where is not None and Path(sys.path[0] or ".").resolve() in where.parents:
                raise ImportError(
                    f"{where} shadows the installed {module!r} ({distribution}): rename that file"
                )
            return mod
        shadow = sys.modules.pop(module, None)  # a user's module of the same name, if imported
        mod = importlib.util.module_from_spec(spec)
        sys.modules[module] = mod
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            del sys.modules[module]
            if shadow is not None:
                sys.modules[module] = shadow
            raise
        if shadow is not None:
            sys.modules[module] = shadow  # the user's module keeps its name; we hold the real one
        return mod
