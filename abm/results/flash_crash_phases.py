"""The two phases of a flash crash, found from the price, and their historical values.

Kirilenko, Kyle, Samadi and Tuzun (2017, section 2) split the E-mini's fall on May 6, 2010
into a first phase of about four minutes (about 3% down) and a second of about 15 seconds,
the hot potato (another 1.7%), ended by a five-second CME Stop Logic pause (CFTC/SEC 2010,
p. 4). Here the phases are found from a run's smoothed price, not from fixed times: phase 1
is the largest fall within `PHASE1_MAX_S` seconds after the program starts, phase 2 the
largest fall within `PHASE2_MAX_S` seconds inside phase 1 (at least `PHASE2_MIN_S` long).
Pure functions of arrays; the measures over each phase are in `abm.results.flash_crash`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

PHASE1_MAX_S = 300.0
"""Longest phase 1 (the acute plunge), seconds: the largest fall within five minutes."""
PHASE2_MIN_S, PHASE2_MAX_S = 15.0, 60.0
"""Shortest and longest phase 2 (the hot potato), seconds: the worst 15 to 60 seconds."""
REBOUND_S = 1200.0
"""Horizon of the rebound after phase 1, seconds (the record: most of the fall regained in
about 20 minutes)."""
HISTORICAL: Mapping[str, float] = {
    "phase1_fall_pct": 3.0,
    "phase1_duration_s": 240.0,
    "phase2_fall_pct": 1.7,
    "phase2_duration_s": 15.0,
    "phase2_hft_volume_share": 0.49,
    "phase2_hft_net_to_gross": 0.01,
    "phase2_bid_depth_ratio": 0.01,
    "rebound_fraction": 0.5,
    "hft_inventory_half_life_outside_s": 120.0,
    "halt_s": 5.0,
}
"""May 6, 2010 in the E-mini, the measures' historical values (CFTC/SEC 2010, pp. 3-4;
Kirilenko, Kyle, Samadi and Tuzun 2017, sections 3-5): phase 1 about 3% in about four
minutes with HFTs net sellers of ~2,000 of ~140,000 lots traded; phase 2 another ~1.7% in
about 15 seconds, HFTs ~49% of volume with net buying under 1% of what they traded, buy-side
depth under 1% of the morning's; a five-second Stop Logic pause, after which most of the fall
was regained within about 20 minutes (here: at least half); HFT inventory half-life about two
minutes. Ratios are fractions (volume share 0.49 is 49%); the net-to-gross and depth values
are upper bounds, the rebound a lower bound."""


@dataclass(frozen=True, slots=True)
class FlashCrashPhases:
    """The two phases of the event found from the price (steps, inclusive).

    Attributes:
        phase1_start, phase1_end: The largest fall of the smoothed price within any
            `PHASE1_MAX_S` seconds after the program starts: its high and its low.
        phase2_start, phase2_end: Within phase 1, the largest fall within any
            `PHASE2_MAX_S` seconds, widened (forwards, then backwards, within the program's
            window) to at least `PHASE2_MIN_S` seconds; phase 1 is widened to hold it.
    """

    phase1_start: int
    phase1_end: int
    phase2_start: int
    phase2_end: int


def largest_fall(price: np.ndarray, first: int, last: int, max_len: int) -> tuple[int, int]:
    """The steepest drop: steps ``(i, j)`` maximising ``price[i] - price[j]``.

    Over ``first <= i <= j <= last`` with ``j - i <= max_len``; the earliest such low ``j``
    and the last step ``i`` before it at its window's high (where the fall begins);
    ``(first, first)`` if the price never falls.
    """
    segment = pd.Series(price[first : last + 1])
    high = segment.rolling(max_len + 1, min_periods=1).max().to_numpy()
    drop = high - segment.to_numpy()
    j = int(np.argmax(drop))
    if drop[j] <= 0:
        return first, first
    lo = max(0, j - max_len)
    window = segment.to_numpy()[lo : j + 1]
    i = j - int(np.argmax(window[::-1]))  # the last step at the high: where the fall begins
    return first + i, first + j


def flash_crash_phases(price: np.ndarray, start: int, end: int, dt: float) -> FlashCrashPhases:
    """Phase 1 and phase 2 (`FlashCrashPhases`) from a smoothed price, steps ``start..end``.

    Args:
        price: Smoothed price per step.
        start: The program's start step.
        end: The run's last step.
        dt: Seconds per step.
    """
    p1_start, p1_end = largest_fall(price, start, end, max(1, round(PHASE1_MAX_S / dt)))
    p2_start, p2_end = largest_fall(price, p1_start, p1_end, max(1, round(PHASE2_MAX_S / dt)))
    shortest = max(1, round(PHASE2_MIN_S / dt))
    if p2_end - p2_start < shortest:
        p2_end = min(end, p2_start + shortest)
        p2_start = max(start, p2_end - shortest)
    p1_start, p1_end = min(p1_start, p2_start), max(p1_end, p2_end)
    return FlashCrashPhases(p1_start, p1_end, p2_start, p2_end)


def ar1_pairs_half_life(previous: np.ndarray, current: np.ndarray) -> float:
    """`ar1_half_life` from explicit ``(x_{t-1}, x_t)`` pairs (so a window can be left out).

    NaN with fewer than three pairs, a constant ``x_{t-1}``, or ``phi`` outside ``(0, 1)``.
    """
    if previous.size < 3:
        return math.nan
    lagged, now = previous - previous.mean(), current - current.mean()
    denominator = float(lagged @ lagged)
    if denominator == 0.0:
        return math.nan
    phi = float(lagged @ now) / denominator
    if not 0.0 < phi < 1.0:
        return math.nan
    return math.log(0.5) / math.log(phi)
