"""Mesa, imported without the frame inspection that cost a large part of its import time.

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
Modules of abm import Mesa from here (``from abm.mesa_import import mesa``); a program that
imported Mesa first simply gets the module it already has.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, ModuleType


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


with _frames_without_source():
    import mesa

__all__ = ["mesa"]
