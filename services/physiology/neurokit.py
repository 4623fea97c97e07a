"""neurokit2, imported without the libraries this service never calls into.

Importing neurokit2 imports scikit-learn and matplotlib, for its clustering, complexity and
plotting functions. This service calls its ECG, PPG, EDA and respiration cleaning, peak and
quality functions, which use neither, yet paid about 0.7 s of CPU for them at every start
(neurokit2's import: 2.2 s of CPU as usual, 1.5 s with them deferred, on the 2-core machine
of docs/performance.md), the largest part of the slowest service's start.

Here they are deferred: while neurokit2 (or anything after it) imports them, each module is
a stand-in; the real module is imported the first time anything in it is used, and every
stand-in then forwards to it. A neurokit2 function that does use one works as before, only
its first call pays the import. `DEFERRED` says which; `deferred()` which are still waiting.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
import types
from collections.abc import Sequence
from typing import Any

DEFERRED = ("sklearn", "matplotlib")  # top-level packages, with all their submodules

_lock = threading.RLock()
_waiting: set[str] = set()  # roots whose real modules are not imported yet


class _StandIn(types.ModuleType):
    """A module not imported yet: reading a name from it imports the real one."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__") and attr not in ("__version__", "__all__"):
            raise AttributeError(attr)  # import machinery and tools probing a module
        root = self.__name__.partition(".")[0]
        path = self.__dict__.get("__path__")
        if root in _waiting and path is not None and _finds(f"{self.__name__}.{attr}", path):
            raise AttributeError(attr)  # a submodule: `from pkg import sub` imports it
        return getattr(_import_real(self.__name__), attr)


def _finds(name: str, path: Sequence[str]) -> bool:
    return importlib.machinery.PathFinder.find_spec(name, list(path)) is not None


def _import_real(name: str) -> types.ModuleType:
    """The real module `name`, its root package's stand-ins replaced first."""
    with _lock:
        root = name.partition(".")[0]
        _waiting.discard(root)
        for key, module in list(sys.modules.items()):
            if isinstance(module, _StandIn) and key.partition(".")[0] == root:
                del sys.modules[key]
        return importlib.import_module(name)


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Gives a stand-in for a module of a waiting root that exists on disk."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in _waiting:
            return None
        real = importlib.machinery.PathFinder.find_spec(fullname, path)
        if real is None:
            return None  # not there: the usual ModuleNotFoundError
        spec = importlib.machinery.ModuleSpec(fullname, self)
        spec.submodule_search_locations = real.submodule_search_locations
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _StandIn(spec.name)
        if spec.submodule_search_locations is not None:
            module.__path__ = list(spec.submodule_search_locations)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass  # nothing runs until something is used


def deferred() -> set[str]:
    """The roots of DEFERRED whose real modules have not been imported."""
    return set(_waiting)


def _defer() -> None:
    with _lock:
        _waiting.update(root for root in DEFERRED if root not in sys.modules)
        if not any(isinstance(f, _Finder) for f in sys.meta_path):
            sys.meta_path.insert(0, _Finder())


_defer()
import neurokit2 as nk  # noqa: E402 - after the deferral, which is the point

__all__ = ["DEFERRED", "deferred", "nk"]
