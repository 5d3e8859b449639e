"""The ``abm`` command asks numpy's OpenBLAS for one thread unless the environment says otherwise.

Reference: the environment a fresh process sees after `abm.cli.main.main` has run (what
OpenBLAS reads when numpy is imported after it).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_PROBE = """
import os, sys
from abm.cli.main import main
try:
    main(["--version"])
except SystemExit:
    pass
print(os.environ.get("OPENBLAS_NUM_THREADS"))
"""


def _probe(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if env_value is not None:
        env["OPENBLAS_NUM_THREADS"] = env_value
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def test_cli_defaults_openblas_to_one_thread() -> None:
    """Without the variable, the command sets it to 1 before any command imports numpy."""
    assert _probe(None) == "1"


@pytest.mark.parametrize("value", ["2", "4"])
def test_cli_keeps_the_callers_openblas_setting(value: str) -> None:
    """A value the caller set is left as it is."""
    assert _probe(value) == value
