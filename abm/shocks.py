"""Scheduled shocks: price gaps and volatility spikes applied to the fundamental.

A price gap moves the fundamental at the start of its step (step 2 of the model's step
order), after the fundamental's own move and before any trader acts: standing
inventory is hit before anyone can requote, and quotes anchored on the mid stay stale
until order flow moves them. A volatility shock multiplies the fundamental's own
moves inside its window, whatever the process.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from abm.fundamental import FundamentalProcess
from abm.risk_specs import PriceGapShock, ShockSpec, VolatilityShock


class ShockSchedule:
    """The scenario's shocks, indexed by step.

    Args:
        shocks: Shock specs in any order.
    """

    def __init__(self, shocks: Sequence[ShockSpec]) -> None:
        self.gaps: dict[int, list[PriceGapShock]] = {}
        self.volatility: list[VolatilityShock] = []
        for shock in shocks:
            if isinstance(shock, PriceGapShock):
                self.gaps.setdefault(shock.step, []).append(shock)
            else:
                self.volatility.append(shock)
        self.announced_gap_steps = sorted(
            {s.step for shocks_at in self.gaps.values() for s in shocks_at if s.announced}
        )

    def volatility_multiplier(self, step: int) -> float:
        """Product of the multipliers of volatility shocks active at ``step``."""
        multiplier = 1.0
        for shock in self.volatility:
            if shock.step <= step < shock.until_step:
                multiplier *= shock.multiplier
        return multiplier

    def apply(self, step: int, fundamental: FundamentalProcess, previous: float) -> float:
        """Apply this step's shocks to the fundamental (already stepped from ``previous``).

        Returns:
            The total price gap applied this step (price units; 0.0 if none).
        """
        multiplier = self.volatility_multiplier(step)
        if multiplier != 1.0:
            fundamental.value = previous + multiplier * (fundamental.value - previous)
        gap = 0.0
        for shock in self.gaps.get(step, ()):
            before = fundamental.value
            if shock.relative:
                fundamental.value = before * math.exp(shock.size)
            else:
                fundamental.value = before + shock.size
            gap += fundamental.value - before
        return gap

    def in_gap_window(self, step: int, before_steps: int, after_steps: int) -> bool:
        """True if an announced gap falls within ``[step - after, step + before]``."""
        return any(
            step - after_steps <= gap_step <= step + before_steps
            for gap_step in self.announced_gap_steps
        )
