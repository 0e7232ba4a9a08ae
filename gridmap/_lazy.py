"""Packages whose public names load on first use (PEP 562), so ``gridmap --help`` stays fast.

``import gridmap`` (and every ``gridmap.cli`` command, which imports the package first) would
otherwise load pandas, geopandas, OR-Tools and matplotlib before a line of help is printed.
:func:`lazy_package` gives a package a module ``__getattr__`` that imports a public name's
module when the name is first used, and keeps the import system from replacing a public
*function* by the submodule of the same name (``gridmap.check`` is the function, as it always
was, even after ``gridmap.check`` the module has been loaded by another import).
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping
from typing import Any

__all__ = ["lazy_package"]


class _LazyPackage(types.ModuleType):
    """A package module whose public names come from their modules on first use."""

    _lazy_names: Mapping[str, str]

    def __getattr__(self, name: str) -> Any:
        module = self.__dict__.get("_lazy_names", {}).get(name)
        if module is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        types.ModuleType.__setattr__(self, name, value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        # the import system sets ``package.x`` to the submodule ``x`` when it first loads it;
        # where ``x`` is also a public function of the package, the function wins
        if isinstance(value, types.ModuleType) and name in self.__dict__.get("_lazy_names", {}):
            return
        types.ModuleType.__setattr__(self, name, value)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.__dict__.get("_lazy_names", {})))


def lazy_package(package: str, names: Mapping[str, str]) -> None:
    """Make ``package``'s public ``names`` (name → module that defines it) load on first use.

    Call it at the end of the package's ``__init__`` with its ``__name__``; list the same
    names in ``__all__`` and import them under ``if TYPE_CHECKING:`` for type checkers.
    """
    module = sys.modules[package]
    module.__class__ = _LazyPackage
    types.ModuleType.__setattr__(module, "_lazy_names", dict(names))
    for name, source in names.items():  # a submodule loaded before this call
        if isinstance(module.__dict__.get(name), types.ModuleType) and source:
            del module.__dict__[name]
