"""`abm.startup.engine_imports`: the collector is off while the engine is first imported.

Checked in fresh interpreters against the `gc` module's own state (isenabled, the freeze
count), since the engine is already imported in the test process.
"""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import gc
from abm.startup import engine_imports
with engine_imports():
    during = gc.isenabled()
    import abm.streamed
first = gc.get_freeze_count()
with engine_imports():  # the engine is loaded now: nothing to guard
    again = gc.isenabled()
gc.disable()
with engine_imports():  # a caller that turned the collector off keeps it off
    pass
print(during, gc.get_freeze_count() == first > 10_000, again, gc.isenabled())
"""


def test_engine_imports_pauses_the_collector_once_then_freezes() -> None:
    """Off during the first import, on again and frozen after; a no-op on later entries."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "True", "True", "False"]
