"""Mesa, imported without the frame inspection and the subpackage that cost half its import.

Mesa 3.3's logging helpers (``mesa.mesa_logging``) find their caller's name at import time
with ``inspect.stack()`` and ``inspect.getouterframes(...)`` (their default of one line of
source context makes ``inspect`` look up every frame's source file and module, importlib's
frozen frames included, to return a line nobody uses), then ``inspect.getmodule(frame)``
(which resolves the real path of every loaded module's file the first time: thousands of
``lstat`` calls). Mesa reads only the frame, the function name and the module's name. Under
cProfile those look-ups were 0.19 s of the 0.27 s ``import mesa`` took with numpy, pandas,
networkx and scipy already loaded.

`mesa` here is Mesa itself, imported once with those three functions replaced by a plain
walk up the frames and a frame's own module (``sys.modules`` of its globals' ``__name__``),
which give Mesa the same frames and names without the look-ups, and restored at once.
Its ``mesa.experimental`` subpackage runs on first use rather than with Mesa
(`_defer_experimental`): abm uses none of it, and it brings in ``scipy.spatial``.

Modules of abm import Mesa from here (``from abm.mesa_import import mesa``); a program that
imported Mesa first simply gets the module it already has.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.abc import Loader
from importlib.machinery import PathFinder
from types import FrameType, ModuleType
from typing import Any


def _outer_frames(frame: FrameType | None) -> list[inspect.FrameInfo]:
    """``inspect.getouterframes(frame)`` without looking up any source file or module.

    Each record holds the frame, its code's file name, line and function name, and no
    source context: all that Mesa reads of them.
    """
    frames = []
    while frame is not None:
        code = frame.f_code
        frames.append(
            inspect.FrameInfo(frame, code.co_filename, frame.f_lineno, code.co_name, None, None)
        )
        frame = frame.f_back
    return frames


@contextmanager
def _frames_without_source() -> Iterator[None]:
    """``inspect``'s frame helpers skip the source and module look-ups, for a while."""
    stack, getouterframes, getmodule = inspect.stack, inspect.getouterframes, inspect.getmodule

    def outer_frames(frame: FrameType, context: int = 1) -> list[inspect.FrameInfo]:
        return _outer_frames(frame)

    def caller_stack(context: int = 1) -> list[inspect.FrameInfo]:
        return _outer_frames(sys._getframe(1))  # inspect.stack() starts at its caller

    def module_of(object: object, _filename: str | None = None) -> ModuleType | None:
        if isinstance(object, FrameType):  # a frame runs in its module's globals
            module = sys.modules.get(object.f_globals.get("__name__", ""))
            if module is not None:
                return module
        return getmodule(object, _filename)

    inspect.stack, inspect.getouterframes = caller_stack, outer_frames
    inspect.getmodule = module_of
    try:
        yield
    finally:
        inspect.stack, inspect.getouterframes, inspect.getmodule = stack, getouterframes, getmodule


class _DeferredPackage(ModuleType):
    """A package whose ``__init__`` runs on the first read of a name it would define.

    Its import-system attributes (``__spec__``, ``__path__``, ``__file__``, ...) are set as
    for any module, so importing it, or a submodule of it, reads nothing that is missing;
    any other name is missing until the code has run, and reading one runs it first.
    """

    def __getattr__(self, name: str) -> Any:
        loader: Loader | None = self.__dict__.pop("_abm_loader", None)
        if loader is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        object.__setattr__(self, "__class__", ModuleType)  # a plain module from now on
        loader.exec_module(self)
        return getattr(self, name)


def _defer_experimental() -> None:
    """Register ``mesa.experimental`` to run on first use instead of with Mesa.

    ``mesa/__init__.py`` imports ``mesa.experimental``, whose continuous space imports
    ``scipy.spatial`` (and with it scipy's sparse, linalg and special packages): about a
    quarter of ``import mesa`` here, for features abm never uses. The subpackage is put in
    ``sys.modules`` as a `_DeferredPackage`, so Mesa's ``import mesa.experimental as
    experimental`` binds it without running it, and its code runs on the first name anyone
    reads from it (``mesa.experimental.devs``, ``from mesa.experimental import devs``); its
    submodules import as usual (``from mesa.experimental.devs import Simulator``). Without
    a spec for it (another Mesa layout), Mesa is imported as it is.
    """
    name = "mesa.experimental"
    if name in sys.modules:
        return
    package = importlib.util.find_spec("mesa")  # finds, without running, mesa/__init__.py
    locations = None if package is None else package.submodule_search_locations
    spec = None if locations is None else PathFinder.find_spec(name, list(locations))
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _DeferredPackage
    module.__dict__["_abm_loader"] = spec.loader
    sys.modules[name] = module


if "mesa" not in sys.modules:
    _defer_experimental()
with _frames_without_source():
    import mesa

__all__ = ["mesa"]
