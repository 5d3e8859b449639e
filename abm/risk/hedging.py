"""Hedging strategies: how many units of the hedge instrument a market maker trades now.

The instrument and its venue are in `abm.market.hedge`; the strategy specs in `abm.risk.specs`.
"""

from __future__ import annotations

import math

from abm.risk.specs import BandHedge, FullHedge, HedgeSpec, NoHedge, PartialHedge


def hedge_trade(spec: HedgeSpec, inventory: int, hedge: int) -> int:
    """Units of the hedge to buy (positive) or sell (negative) now; net delta = inventory + hedge.

    * none: never;
    * full: to ``hedge = -inventory`` (delta neutral);
    * band: only when ``|net delta| > band``, and then back to the band's edge;
    * partial: to ``hedge = -round(fraction * inventory)``.
    """
    if isinstance(spec, NoHedge):
        return 0
    if isinstance(spec, FullHedge):
        return -inventory - hedge
    if isinstance(spec, PartialHedge):
        return -round(spec.fraction * inventory) - hedge
    assert isinstance(spec, BandHedge)
    delta = inventory + hedge
    if abs(delta) <= spec.band:
        return 0
    edge = math.floor(spec.band)
    return (edge if delta > 0 else -edge) - delta
