"""Modules imported on first use (foundation).

``app.py`` names every service it routes to, but each core Lambda instance (router, sender, API)
should pay at cold start only for the modules its own path runs. ``lazy(name)`` returns a
stand-in that imports ``name`` on its first attribute access (``importlib.import_module``: the
import system's module locks make that safe across threads) and forwards every read and write to
the real module. Used beside
``TYPE_CHECKING`` imports, so the type checker still reads plain imports.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    """Stands for the module of the same name until something is read from it."""

    def __getattr__(self, attr: str) -> Any:  # only for names the stand-in itself lacks: all of them
        return getattr(importlib.import_module(self.__name__), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(importlib.import_module(self.__name__), attr, value)

    def __delattr__(self, attr: str) -> None:
        delattr(importlib.import_module(self.__name__), attr)


def lazy(name: str) -> ModuleType:
    """A stand-in for module ``name`` that imports it on first use."""
    return LazyModule(name)
