"""The hedge venue: a liquid instrument outside the book (the strategies are in `abm.risk.hedging`).

The hedge instrument's price is the fundamental plus Gaussian basis noise, drawn once a
step. Trades go to a `HedgeVenue` (the venue ``"hedge"``, trading the instrument
`abm.market.venue.HEDGE`), which takes the other side of every hedge trade at that price plus
a fee and a linear impact per unit, rounded to the tick grid against the trader. The trade is
settled by the exchange's dealer settlement (`abm.market.exchange.settle_dealer`) against the
venue's own exact account, so that cash and positions stay conserved across traders and venue
together. Hedge trades are not rows of the ``trades`` table (their only purpose is ``hedge``);
each is a ``hedge`` event of the market maker that sent it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from abm.market.exchange import settle_dealer
from abm.market.venue import HEDGE, PlainVenue, VenueContext
from abm.scenario.types import NonNegFloat, Spec

if TYPE_CHECKING:
    from abm.market.venue import Account


class HedgeInstrumentSpec(Spec):
    """A liquid hedge outside the book (a future or perpetual).

    Its price each step is the fundamental plus i.i.d. Gaussian basis noise of sd
    ``basis_sd`` (price units). Buying ``q`` units costs, per unit, the price plus
    ``fee`` plus ``impact * q`` (a linear temporary impact); selling receives the price
    minus the same; execution prices are rounded to the tick grid against the trader.
    """

    basis_sd: NonNegFloat = Field(
        default=0.0, description="Sd of the i.i.d. basis (hedge price - fundamental), price units."
    )
    fee: NonNegFloat = Field(default=0.0, description="Fee per unit traded, price units.")
    impact: NonNegFloat = Field(
        default=0.0, description="Linear temporary impact, price units per unit per unit traded."
    )


class HedgeVenue(PlainVenue):
    """The counterparty of all hedge trades, with an exact account in tick units.

    Args:
        spec: Price noise, fee and impact of the instrument.
        tick_size: The book's tick, used to keep cash exact.
        rng: The venue's own generator (basis noise).
        name: The venue's name.

    Attributes:
        price: This step's hedge price (NaN before the first draw).
        cash_ticks, position: The venue's own account (tick units; lots of `HEDGE`).
        trades, fees: Nonzero trades so far, and the costs they paid over the hedge price.
    """

    instrument = HEDGE

    def __init__(
        self,
        spec: HedgeInstrumentSpec,
        tick_size: float,
        rng: np.random.Generator,
        *,
        name: str = "hedge",
    ) -> None:
        self.name = name
        self.spec = spec
        self.tick_size = tick_size
        self.rng = rng
        self.price = math.nan
        # decimals enough to print every grid price exactly, as the order book does
        self._decimals = max(0, -math.floor(math.log10(tick_size)) + 2)
        self.cash_ticks = 0
        self.position = 0
        self.holdings: dict[str, int] = {}  # no held instruments
        self.trades = 0
        self.fees = 0.0

    def update_price(self, fundamental: float) -> float:
        """Draw this step's hedge price (fundamental plus basis noise)."""
        noise = self.spec.basis_sd * self.rng.standard_normal() if self.spec.basis_sd else 0.0
        self.price = fundamental + noise
        return self.price

    def open_step(self, step: int, fundamental: float) -> None:
        """Draw step ``step``'s price from the fundamental after the step's shocks."""
        self.update_price(fundamental)

    def open_trading(self, step: int) -> None:
        """Nothing to do: the hedge venue trades at any time at this step's price."""

    def trade(self, trader: Account, qty: int) -> tuple[float, float]:
        """Buy (``qty > 0``) or sell hedge units for ``trader`` at this step's price.

        The trade's purpose is always ``hedge``; it is settled by
        `abm.market.exchange.settle_dealer` with this venue as the counterparty.

        Returns:
            The execution price and the cost paid over the hedge price (fee plus
            impact plus rounding, price units, >= 0).
        """
        if qty == 0:
            return self.price, 0.0
        size = abs(qty)
        markup = self.spec.fee + self.spec.impact * size
        if qty > 0:
            price_ticks = math.ceil((self.price + markup) / self.tick_size - 1e-9)
        else:
            price_ticks = math.floor((self.price - markup) / self.tick_size + 1e-9)
        settle_dealer(trader, self, price_ticks, qty)
        self.trades += 1
        price = round(price_ticks * self.tick_size, self._decimals)
        cost = max(0.0, (price - self.price) * qty)  # >= 0 by construction; clip float noise
        self.fees += cost
        return price, cost


def build_hedge_venue(name: str, context: VenueContext) -> HedgeVenue:
    """The scenario's hedge venue (``hedge_instrument``), with the venue's own generator."""
    spec: HedgeInstrumentSpec = context.scenario.hedge_instrument
    tick_size: float = context.scenario.tick_size
    return HedgeVenue(spec, tick_size, context.rng, name=name)
