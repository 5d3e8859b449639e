"""Dealers' balance sheets on the network, and the trades forced on them.

A dealer's equity is ``cash + inventory * mark + hedge * hedge price + claims - debts``, the
mark being the scenario's ``mark`` methodology (`abm.market.mark`), re-read after anything
that may move the book (`BalanceSheets.refresh_mark`); margin requirements and default tests
use the same. Credit lines are funded once, at construction: along each edge ``i -> j`` of the
network ``i`` pays ``exposure`` in cash to ``j`` and holds a claim on it, ``j`` owes it (equity
unchanged for both). All amounts are integer tick units, so cash stays exactly conserved across
dealers, the rest of the market and the outside world (`OutsideWorld`, which takes the other
side of exogenous shocks and, with the fire-sale channel off, of forced sales).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import networkx as nx

from abm.contagion.view import ContagionMarket, Dealer, DealerExchange, EventSink
from abm.results.events import EventKind, TradePurpose
from abm.states import Status

D = TypeVar("D", bound=Dealer)


@dataclass
class OutsideWorld:
    """The rest of the world: counterparty of exogenous shocks and off-book forced sales."""

    cash_ticks: int = 0
    inventory: int = 0


@dataclass
class ContagionStats:
    """Run totals for ``summary.json``."""

    defaults: int = 0
    cascade_waves: int = 0
    forced_sale_volume: int = 0
    losses_by_channel: dict[str, float] = field(default_factory=dict)

    def add_loss(self, channel: str, amount: float) -> None:
        """Accumulate a loss (price units) under ``channel``."""
        self.losses_by_channel[channel] = self.losses_by_channel.get(channel, 0.0) + amount


class BalanceSheets(Generic[D]):
    """The dealers' accounts as the channels see them, and the transfers between them.

    Args:
        nodes: The dealers; node ``i`` of ``network`` is ``nodes[i]``.
        network: Edges ``i -> j`` (``i`` lent to ``j``) with ``exposure`` (price units) and
            ``capacity`` (lots); funding adds ``claim_ticks`` to each edge.
        exchange: Settles forced sales into the book and inter-dealer trades.
        market: Prices and time.
        log_event: The event sink.
        fire_sale: Whether forced sales go into the book (else to the outside world).

    Attributes:
        outside: The outside world's cash and inventory.
        stats: Run totals.
        mark: The mark as last read by `refresh_mark` (NaN before the first read).
    """

    def __init__(
        self,
        nodes: Sequence[D],
        network: nx.DiGraph,
        exchange: DealerExchange[D],
        market: ContagionMarket,
        log_event: EventSink,
        *,
        fire_sale: bool,
    ) -> None:
        self.nodes: list[D] = list(nodes)
        self.network = network
        self.exchange = exchange
        self.market = market
        self.log = log_event
        self.fire_sale = fire_sale
        self.tick_size = market.tick_size
        self.outside = OutsideWorld()
        self.stats = ContagionStats()
        self.node_of = {mm.unique_id: i for i, mm in enumerate(self.nodes)}
        self.mark = math.nan
        self._fund_credit_lines()

    def _fund_credit_lines(self) -> None:
        tick = self.tick_size
        for i, j, data in self.network.edges(data=True):
            amount = round(data["exposure"] / tick)
            lender, borrower = self.nodes[i], self.nodes[j]
            lender.cash_ticks -= amount
            lender.claims_ticks += amount
            borrower.cash_ticks += amount
            borrower.debts_ticks += amount
            data["claim_ticks"] = amount

    def trade_outside(self, mm: D, price_ticks: int, qty: int) -> None:
        """``mm`` buys ``qty`` lots (signed) from the outside world at ``price_ticks``."""
        notional = price_ticks * qty
        mm.cash_ticks -= notional
        mm.inventory += qty
        self.outside.cash_ticks += notional
        self.outside.inventory -= qty

    def reduce_claim(self, lender: D, edge: dict[str, Any], ticks: int) -> None:
        """Lower ``lender``'s claim along ``edge`` by ``ticks``, keeping ``exposure`` in step."""
        lender.claims_ticks -= ticks
        edge["claim_ticks"] -= ticks
        edge["exposure"] = edge["claim_ticks"] * self.tick_size

    def neighbours(self, node: int) -> set[int]:
        """Nodes linked to ``node`` in either direction."""
        graph = self.network
        return set(graph.successors(node)) | set(graph.predecessors(node))

    def refresh_mark(self) -> None:
        """Re-read the mark (after anything that may have moved the book)."""
        self.mark = self.market.mark_price()

    def equity(self, mm: D) -> float:
        """``mm``'s equity at the last mark read and this step's hedge price."""
        return mm.equity(mark=self.mark, hedge_mark=self.market.hedge_venue.price)

    def distress(self, mm: D) -> float:
        """Relative equity loss since the start, in [0, 1] (1 for a defaulted dealer)."""
        if mm.status is Status.DEFAULTED:
            return 1.0
        start = mm.initial_equity
        if start <= 0:
            return 0.0
        return min(1.0, max(0.0, 1.0 - self.equity(mm) / start))

    def forced_sale(self, mm: D, qty: int, channel: EventKind) -> int:
        """Trade ``qty`` lots (signed: + buys) out of ``mm``'s control; returns lots done.

        With the fire-sale channel on, a market order into the book (price impact); off,
        the outside world takes it at the fundamental (rounded to the tick against the
        seller). Logged as a ``channel`` event (``liquidation`` or ``margin_call``) whose
        amount is the signed quantity done, with the fields ``notional`` (price units,
        unsigned), the ``mid`` before and the ``venue`` (book or outside).
        """
        if qty == 0:
            return 0
        market = self.market
        tick = self.tick_size
        mid = market.mid_price()
        if self.fire_sale:
            result = self.exchange.market(mm, qty > 0, abs(qty), purpose=TradePurpose(channel))
            done = result.filled_qty
            notional_ticks = sum(fill.price_ticks * fill.qty for fill in result.fills)
            venue = "book"
        else:
            value = market.reference_price("fundamental") / tick
            price_ticks = math.ceil(value - 1e-9) if qty > 0 else math.floor(value + 1e-9)
            self.trade_outside(mm, price_ticks, qty)
            done = abs(qty)
            notional_ticks = price_ticks * done
            venue = "outside"
        self.stats.forced_sale_volume += done
        self.refresh_mark()
        if done:
            self.log(
                channel,
                mm.unique_id,
                None,
                float(done if qty > 0 else -done),
                notional=notional_ticks * tick,
                mid=mid,
                venue=venue,
            )
        return done
