"""Rebalancing: trading inventory back towards a target with marketable orders.

Each rule looks at the gap ``inventory - target`` once a step, before the market maker
quotes, and returns the signed quantity to trade now (positive: buy):

* none: never (quote skew alone manages inventory);
* threshold: when ``|gap| > band``, the whole gap at once;
* proportional: when ``|gap| > band``, ``fraction`` of the gap, rounded away from zero;
* scheduled: when ``|gap| > band`` and no schedule runs, unwind the gap in
  ``horizon_steps`` equal slices (TWAP); a slice never trades past the target.

The market maker sends the quantity as a market order and logs a ``rebalance`` event
with the filled quantity and notional, so that rebalancing cost can be separated from
quoting P&L (`analysis.market_making`).
"""

from __future__ import annotations

import math

from abm.risk.specs import (
    NoRebalance,
    ProportionalRebalance,
    RebalanceSpec,
    ScheduledRebalance,
    ThresholdRebalance,
)


class Rebalancer:
    """The per-market-maker state of one rebalancing rule.

    Args:
        spec: The rule.
    """

    def __init__(self, spec: RebalanceSpec) -> None:
        self.spec = spec
        self._slices: list[int] = []

    @property
    def active(self) -> bool:
        """False for the ``none`` rule."""
        return not isinstance(self.spec, NoRebalance)

    def order(self, inventory: int) -> int:
        """Signed quantity to trade this step (0: nothing)."""
        spec = self.spec
        gap = inventory - spec.target
        if isinstance(spec, NoRebalance):
            return 0
        if isinstance(spec, ScheduledRebalance):
            # order flow may have closed or crossed the gap: drop a schedule that no
            # longer points towards the target, and start afresh if needed
            if self._slices and (gap == 0 or self._slices[0] * gap > 0):
                self._slices.clear()
            if not self._slices and abs(gap) > spec.band:
                self._slices = _twap_slices(-gap, spec.horizon_steps)
            if not self._slices:
                return 0
            qty = self._slices.pop(0)
            if abs(qty) > abs(gap):  # never trade past the target
                self._slices.clear()
                return -gap
            return qty
        if abs(gap) <= spec.band:
            return 0
        if isinstance(spec, ThresholdRebalance):
            return -gap
        assert isinstance(spec, ProportionalRebalance)
        size = math.ceil(spec.fraction * abs(gap) - 1e-9)
        return -size if gap > 0 else size


def _twap_slices(total: int, horizon: int) -> list[int]:
    """Split ``total`` lots into ``horizon`` near-equal integer slices (larger ones first)."""
    size, extra = divmod(abs(total), horizon)
    sign = 1 if total > 0 else -1
    slices = [sign * (size + (1 if i < extra else 0)) for i in range(horizon)]
    return [s for s in slices if s]
