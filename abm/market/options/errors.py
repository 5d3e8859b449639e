"""The options venue's error (its own module: the series and the venue both raise it)."""

from __future__ import annotations

from abm.errors import AbmError


class OptionsError(AbmError, ValueError):
    """An order the options venue cannot take (an expired series, a price off its grid)."""
