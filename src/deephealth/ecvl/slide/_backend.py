"""Lazy access to openslide-python (with the openslide-bin library) for the slide package.

OpenSlide is an optional back-end: importing :mod:`deephealth.ecvl` must not load it. Every
module of the slide and pathology packages gets the module through :func:`openslide_module`,
which raises an :class:`ImportError` naming the ``deephealth[slide]`` extra when it is missing, and
imports it from openslide-python's installed folder (a user script named ``openslide.py`` is not
taken for it; see :mod:`deephealth.ecvl.backends`).
"""

from __future__ import annotations

from types import ModuleType

from deephealth.ecvl.backends import import_installed

_EXTRA_HINT = (
    "whole-slide images need openslide-python and openslide-bin: "
    "install them with `pip install 'deephealth[slide]'`"
)


def openslide_module() -> ModuleType:
    """Return the ``openslide`` module, importing it on first use.

    Returns:
        The imported ``openslide`` package.

    Raises:
        ImportError: openslide-python or its shared library (openslide-bin) is missing; the
            message names the ``deephealth[slide]`` extra.
    """
    try:  # from openslide-python's own folder: a user's ``openslide.py`` cannot shadow it
        return import_installed("openslide", "openslide-python", _EXTRA_HINT)
    except (ImportError, OSError) as exc:  # OSError: the shared library cannot be loaded
        raise ImportError(f"{_EXTRA_HINT} ({exc})") from exc
