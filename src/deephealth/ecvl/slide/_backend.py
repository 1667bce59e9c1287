"""Lazy access to openslide-python (with the openslide-bin library) for the slide package.

OpenSlide is an optional back-end: importing :mod:`deephealth.ecvl` must not load it. Every
module of the slide and pathology packages gets the module through :func:`openslide_module`,
which raises an :class:`ImportError` naming the ``deephealth[slide]`` extra when it is missing.
"""

from __future__ import annotations

from types import ModuleType

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
    try:
        import openslide
    except (ImportError, OSError) as exc:  # OSError: the shared library cannot be loaded
        raise ImportError(f"{_EXTRA_HINT} ({exc})") from exc
    return openslide
