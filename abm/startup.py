"""The first import of the engine in a process, made without the cyclic garbage collector.

Importing the engine (numpy, pandas, pyarrow, pydantic's models, Mesa and abm's own
modules) leaves about 100,000 objects that live until the process ends. While they are made
the cyclic collector runs again and again over them for nothing (about 85 ms of CPU in
``abm run``); frozen afterwards (`gc.freeze`) they are left out of every later collection.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# A module the engine's import brings in: once it is loaded the engine is, and there is
# nothing left to guard.
_ENGINE_MODULE = "abm.streamed"


@contextmanager
def engine_imports() -> Iterator[None]:
    """Run the ``with`` body (its imports) with the collector off, then freeze what they made.

    Does nothing when the engine is already imported or the collector is already off (a
    caller that manages it itself), so it may be entered from any path.
    """
    guard = _ENGINE_MODULE not in sys.modules and gc.isenabled()
    if guard:
        gc.disable()
    try:
        yield
    finally:
        if guard:
            gc.freeze()
            gc.enable()
