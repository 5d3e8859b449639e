"""Benchmarks measured in a fresh process: run one, read its figures, and its peak memory.

A bench that times whole processes (``abm bench day``, ``zi``, ``scale``) runs its own module
as a child (``python -m abm.bench.<name> ...``), which does the work and prints its figures
as one JSON line last; `run_child` runs it and reads that line. `peak_mib` is what the child
reports of its own memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def run_child(command: list[str], what: str) -> dict[str, Any]:
    """Run ``command`` and return the JSON object on its last line of output.

    Raises:
        RuntimeError: If it exits non-zero; the message names ``what`` and quotes the last
            line it printed (its error).
    """
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = (done.stdout.strip() or done.stderr.strip() or "no output").splitlines()
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {lines[-1]}")
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures


def peak_mib() -> float:
    """This process's peak resident memory, MiB (NaN where the OS does not say)."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024  # bytes vs KiB
