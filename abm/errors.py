"""`AbmError`, the root of every error abm raises on purpose.

Each error class of abm derives from `AbmError` and, where one fits, from a built-in
exception as well (``class ScenarioError(AbmError, ValueError)``), so both
``except abm.AbmError`` and ``except ValueError`` catch it. An `AbmError` means bad input or
a request abm cannot meet, and its message says what to change; the ``abm`` command prints
it as one line and exits with code 2. Any other exception escaping abm is a bug.

This module is a leaf: it imports nothing from abm, so every module may import it.
"""

from __future__ import annotations


class AbmError(Exception):
    """An error abm raises on purpose: its message names the input at fault and what to change."""


__all__ = ["AbmError"]
