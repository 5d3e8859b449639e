"""The trader account shared by every agent kind.

Cash is kept as an integer number of ``tick_size`` price units times lots, so that
settlement is exact: a fill of ``qty`` lots at ``price_ticks`` moves exactly
``price_ticks * qty`` from the buyer's cash to the seller's, and the sum of all cash
(and of all inventory) is conserved to the last unit, whatever the run length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from abm.states import Regime, Status

if TYPE_CHECKING:
    from abm.market.orderbook import OrderResult
    from abm.model import MarketModel


class Trader(mesa.Agent):
    """A Mesa agent with an exact account (cash in ticks x lots, inventory in lots).

    Args:
        model: The market model.
        group: Name of the scenario group the trader belongs to (e.g. ``"mm"``).
        cash: Initial cash in price units; rounded to the nearest tick unit.
        inventory: Initial inventory in lots.

    Attributes:
        kind: Agent kind as written in scenarios (``"market_maker"``, ...).
        cash_ticks: Cash in units of ``tick_size`` (exact integer).
        inventory: Signed position in lots (the book's instrument only).
        hedge: Signed position in the hedge instrument (lots).
    """

    kind: str = "trader"
    model: MarketModel

    def __init__(self, model: MarketModel, group: str, cash: float, inventory: int) -> None:
        super().__init__(model)
        self.group = group
        self.cash_ticks = round(cash / model.tick_size)
        self.inventory = int(inventory)
        self.hedge = 0  # position in the hedge instrument (lots), traded at the hedge venue
        self.claims_ticks = 0  # interbank claims (credit lines granted), tick units
        self.debts_ticks = 0  # interbank debts (credit lines drawn), tick units
        self.status = Status.ACTIVE
        self.regime = Regime.NORMAL
        self.initial_equity = 0.0  # set by the model once the opening mark is known

    @property
    def cash(self) -> float:
        """Cash in price units."""
        return self.cash_ticks * self.model.tick_size

    def equity(self, *, mark: float, hedge_mark: float) -> float:
        """Cash + inventory at ``mark`` + hedge at ``hedge_mark`` + claims - debts.

        Both marks are required keywords: a position never silently takes a price of 0
        (``MarketModel.mark_price()`` and ``MarketModel.hedge_venue.price`` give them).
        """
        equity = self.cash + self.inventory * mark
        if self.hedge:
            equity += self.hedge * hedge_mark
        if self.claims_ticks or self.debts_ticks:
            equity += (self.claims_ticks - self.debts_ticks) * self.model.tick_size
        return equity

    def quotes(self) -> tuple[float | None, float | None]:
        """The trader's current bid and ask (None where it has none).

        Traders that do not quote return (None, None).
        """
        return None, None

    def order_released(self, result: OrderResult) -> None:
        """Hear what became of an order the exchange queued during a trading halt.

        Called when the halt ends and the order is submitted (`abm.market.exchange`). Fills are
        already settled. By default any remainder that rests is cancelled: a kind that
        does not track released orders would otherwise leave them in the book, forgotten
        (it decides afresh when it next acts). Kinds that track their orders adopt them.
        """
        if result.resting_qty:
            self.model.exchange.cancel(result.order_id)
