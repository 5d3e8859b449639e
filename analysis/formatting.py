"""How analysis shows a value in text: numbers to six significant digits, missing as ``n/a``.

Light on purpose (numpy and pandas, no plotting library): the command line formats a run's
summary with it (`analysis.summary`) without importing what the report's figures need.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

MISSING = "n/a"
"""How a missing value (None, NaN, pandas NA) is shown."""


def format_value(value: Any) -> str:
    """Display string of a value: six significant digits for floats, integers in full.

    None, NaN, infinities and pandas NA show as `MISSING`; booleans as ``yes``/``no``;
    anything else as ``str(value)``.
    """
    if value is None or value is pd.NA:
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return format(number, ".6g") if math.isfinite(number) else MISSING
    return str(value)


def yes_no(value: Any) -> str:
    """``yes`` or ``no`` for a recorded check (truthiness), ``unknown`` when it is None."""
    return "unknown" if value is None else format_value(bool(value))


def ticks(value: Any, tick: float | None) -> float | None:
    """``value / tick`` for a number and a tick size; None when either is missing."""
    if tick is None or not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return value / tick
