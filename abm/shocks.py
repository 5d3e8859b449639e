"""Scheduled shocks: price gaps and volatility spikes, and the schedule of the others.

Shocks to market makers' balance sheets and to the network (losses, defaults,
inventory, margin hikes, liquidity withdrawal, toxic flow, credit freezes) are applied
by the contagion layer (`abm.contagion.engine`) and the model; this module only indexes them.

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
from abm.risk.specs import (
    CreditFreezeShock,
    DefaultShock,
    InventoryShock,
    LiquidityWithdrawalShock,
    LossShock,
    MarginHikeShock,
    PriceGapShock,
    ShockSpec,
    ToxicFlowShock,
    VolatilityShock,
)

TargetedShock = LossShock | DefaultShock | InventoryShock
WindowShock = MarginHikeShock | LiquidityWithdrawalShock | ToxicFlowShock


class ShockSchedule:
    """The scenario's shocks, indexed by step.

    Args:
        shocks: Shock specs in any order.
    """

    def __init__(self, shocks: Sequence[ShockSpec]) -> None:
        self.gaps: dict[int, list[PriceGapShock]] = {}
        self.volatility: list[VolatilityShock] = []
        self.targeted: dict[int, list[TargetedShock]] = {}
        self.windows: list[WindowShock] = []
        self.credit_freezes: dict[int, list[CreditFreezeShock]] = {}
        for shock in shocks:
            if isinstance(shock, PriceGapShock):
                self.gaps.setdefault(shock.step, []).append(shock)
            elif isinstance(shock, VolatilityShock):
                self.volatility.append(shock)
            elif isinstance(shock, LossShock | DefaultShock | InventoryShock):
                self.targeted.setdefault(shock.step, []).append(shock)
            elif isinstance(shock, CreditFreezeShock):
                self.credit_freezes.setdefault(shock.step, []).append(shock)
            else:
                self.windows.append(shock)
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

    def window_multiplier(self, kind: str, step: int) -> float:
        """Product of the multipliers of active ``margin_hike`` or ``toxic_flow`` shocks."""
        multiplier = 1.0
        for shock in self.windows:
            if (
                shock.kind == kind
                and shock.step <= step < shock.step + shock.duration_steps
                and not isinstance(shock, LiquidityWithdrawalShock)
            ):
                multiplier *= shock.multiplier
        return multiplier

    def withdrawals(self) -> list[LiquidityWithdrawalShock]:
        """All liquidity-withdrawal shocks."""
        return [s for s in self.windows if isinstance(s, LiquidityWithdrawalShock)]

    def in_gap_window(self, step: int, before_steps: int, after_steps: int) -> bool:
        """True if an announced gap falls within ``[step - after, step + before]``."""
        return any(
            step - after_steps <= gap_step <= step + before_steps
            for gap_step in self.announced_gap_steps
        )
