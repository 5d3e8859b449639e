"""Hedging strategies: how many units of the hedge instrument a market maker trades now.

The instrument and its venue are in `abm.market.hedge`. Each strategy's spec sits with its
rule; :data:`HEDGERS` maps a spec's ``kind`` to the rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from abm.scenario.types import (
    KindSpec,
    PosFloatLots,
    UnitFraction,
)


class _HedgeBase(KindSpec):
    kind_noun: ClassVar[str] = "hedge"


class NoHedge(_HedgeBase):
    """Carry the book inventory unhedged."""

    kind: Literal["none"] = Field(description="No hedge.")


class FullHedge(_HedgeBase):
    """Delta-neutral every step: hedge position = -inventory."""

    kind: Literal["full"] = Field(description="Hedge position = -inventory every step.")


class BandHedge(_HedgeBase):
    """Trade back to the band edge only when ``|net delta| > band`` (a no-trade band)."""

    kind: Literal["band"] = Field(
        description="Hedge back to the band edge outside a no-trade band."
    )
    band: PosFloatLots = Field(description="Largest |net delta| left unhedged, lots (<= 1e9).")


class PartialHedge(_HedgeBase):
    """Hedge ``fraction`` of the inventory every step: hedge = -round(fraction * inventory)."""

    kind: Literal["partial"] = Field(description="Hedge a fraction of the inventory every step.")
    fraction: UnitFraction = Field(description="Share of the inventory hedged, in (0, 1].")


HedgeSpec = Annotated[NoHedge | FullHedge | BandHedge | PartialHedge, Field(discriminator="kind")]


def _no_hedge(spec: NoHedge, inventory: int, hedge: int) -> int:
    return 0


def _full_hedge(spec: FullHedge, inventory: int, hedge: int) -> int:
    return -inventory - hedge


def _partial_hedge(spec: PartialHedge, inventory: int, hedge: int) -> int:
    return -round(spec.fraction * inventory) - hedge


def _band_hedge(spec: BandHedge, inventory: int, hedge: int) -> int:
    delta = inventory + hedge
    if abs(delta) <= spec.band:
        return 0
    edge = math.floor(spec.band)
    return (edge if delta > 0 else -edge) - delta


HEDGERS: Mapping[str, Callable[[Any, int, int], int]] = MappingProxyType(
    {"none": _no_hedge, "full": _full_hedge, "partial": _partial_hedge, "band": _band_hedge}
)


def hedge_trade(spec: HedgeSpec, inventory: int, hedge: int) -> int:
    """Units of the hedge to buy (positive) or sell (negative) now; net delta = inventory + hedge.

    * none: never;
    * full: to ``hedge = -inventory`` (delta neutral);
    * band: only when ``|net delta| > band``, and then back to the band's edge;
    * partial: to ``hedge = -round(fraction * inventory)``.
    """
    return HEDGERS[spec.kind](spec, inventory, hedge)
