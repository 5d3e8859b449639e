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
quoting P&L (`analysis.market_making`). Each rule's spec sits with its rule;
:data:`REBALANCERS` maps a spec's ``kind`` to the rule it builds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from abm.scenario.types import KindSpec, NonNegLots, PosInt, SignedLots, UnitFraction


class _RebalanceBase(KindSpec):
    kind_noun: ClassVar[str] = "rebalance"
    band: NonNegLots = Field(
        default=0,
        description="No-trade band: act only when |inventory - target| > band, lots (<= 1e9).",
    )
    target: SignedLots = Field(
        default=0,
        description="Inventory to trade back to, lots (|x| <= 1e9).",
    )


class NoRebalance(_RebalanceBase):
    """Skew only: never trade inventory back actively."""

    kind: Literal["none"] = Field(description="Never trade inventory back.")


class ThresholdRebalance(_RebalanceBase):
    """When ``|inventory - target| > band``, trade all the way back to ``target``."""

    kind: Literal["threshold"] = Field(description="Trade the whole gap back at once.")


class ProportionalRebalance(_RebalanceBase):
    """When ``|inventory - target| > band``, unwind ``fraction`` of the gap each step."""

    kind: Literal["proportional"] = Field(description="Unwind a fraction of the gap each step.")
    fraction: UnitFraction = Field(description="Share of the gap traded per step, in (0, 1].")


class ScheduledRebalance(_RebalanceBase):
    """When ``|inventory - target| > band``, unwind the gap in equal slices (TWAP)."""

    kind: Literal["scheduled"] = Field(description="Unwind the gap in equal slices (TWAP).")
    horizon_steps: PosInt = Field(description="Number of slices (steps) the unwind takes.")


RebalanceSpec = Annotated[
    NoRebalance | ThresholdRebalance | ProportionalRebalance | ScheduledRebalance,
    Field(discriminator="kind"),
]

Rule = Callable[[int], int]
"""A built rule: the gap ``inventory - target`` in, the signed lots to trade now out."""


def _never(spec: NoRebalance) -> Rule:
    return lambda gap: 0


def _threshold(spec: ThresholdRebalance) -> Rule:
    band = spec.band
    return lambda gap: -gap if abs(gap) > band else 0


def _proportional(spec: ProportionalRebalance) -> Rule:
    band, fraction = spec.band, spec.fraction

    def rule(gap: int) -> int:
        if abs(gap) <= band:
            return 0
        size = math.ceil(fraction * abs(gap) - 1e-9)
        return -size if gap > 0 else size

    return rule


class _Schedule:
    """The TWAP rule's state: the slices still to trade."""

    def __init__(self, spec: ScheduledRebalance) -> None:
        self.band = spec.band
        self.horizon_steps = spec.horizon_steps
        self.slices: list[int] = []

    def __call__(self, gap: int) -> int:
        # order flow may have closed or crossed the gap: drop a schedule that no
        # longer points towards the target, and start afresh if needed
        if self.slices and (gap == 0 or self.slices[0] * gap > 0):
            self.slices.clear()
        if not self.slices and abs(gap) > self.band:
            self.slices = _twap_slices(-gap, self.horizon_steps)
        if not self.slices:
            return 0
        qty = self.slices.pop(0)
        if abs(qty) > abs(gap):  # never trade past the target
            self.slices.clear()
            return -gap
        return qty


REBALANCERS: Mapping[str, Callable[[Any], Rule]] = MappingProxyType(
    {
        "none": _never,
        "threshold": _threshold,
        "proportional": _proportional,
        "scheduled": _Schedule,
    }
)


class Rebalancer:
    """The per-market-maker state of one rebalancing rule.

    Args:
        spec: The rule.
    """

    def __init__(self, spec: RebalanceSpec) -> None:
        self.spec = spec
        self._target = spec.target
        self._rule = REBALANCERS[spec.kind](spec)

    @property
    def active(self) -> bool:
        """False for the ``none`` rule."""
        return self.spec.kind != "none"

    def order(self, inventory: int) -> int:
        """Signed quantity to trade this step (0: nothing)."""
        return self._rule(inventory - self._target)


def _twap_slices(total: int, horizon: int) -> list[int]:
    """Split ``total`` lots into ``horizon`` near-equal integer slices (larger ones first)."""
    size, extra = divmod(abs(total), horizon)
    sign = 1 if total > 0 else -1
    slices = [sign * (size + (1 if i < extra else 0)) for i in range(horizon)]
    return [s for s in slices if s]
