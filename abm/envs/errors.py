"""The error an environment raises on a bad argument."""

from __future__ import annotations

from abm.errors import AbmError


class EnvError(AbmError, ValueError):
    """An environment or training argument is invalid; the message names it and the problem."""
