"""Liquidators of the lending pool, and the order routing the lending agents share.

The rule is `abm.scenario.lending_groups.LiquidatorGroup`'s: every step a liquidator scans the
pool's accounts below a health factor of one at the oracle price (lowest first) and sends the
liquidations that pay: the lots a liquidation would seize (the repayment, up to the close
factor, plus the bonus, `abm.market.lending.pool.LendingPool.preview_liquidation`) sold now at
its venue must bring in the repayment, the gas and ``min_profit``; it must hold the cash for
all it has sent. A liquidation settles at the end of the block ``latency_blocks`` on, refused
if the account is healthy by then (another liquidator got there first, the price came back).
The seized lots it holds above its starting inventory it sells at its venue, an order of at
most ``max_order`` lots at a time (one per AMM block while a swap is pending), no lower than
``max_slippage_bps`` under the best bid (the oracle price while the book has no bid).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

from abm.agents.base import Market, Trader
from abm.agents.groups import BuiltGroup, GroupKind, GroupRole
from abm.agents.routing import amm_venue, book_cost_ticks, choose_venue, pool_cost_ticks
from abm.results.events import TradePurpose

if TYPE_CHECKING:
    import numpy as np

    from abm.market.lending.venue import LendingVenue
    from abm.scenario.lending_groups import LiquidatorGroup

__all__ = ["GROUP_KIND", "LENDING_VENUE", "Liquidator", "lending_venue", "routed_market_order"]

LENDING_VENUE = "lending"
"""The lending venue's name (`abm.market.venues.OPTIONAL_VENUES`)."""


def lending_venue(market: Market) -> LendingVenue:
    """The run's lending venue.

    Raises:
        KeyError: If the scenario has no ``lending`` section (its validation refuses that).
    """
    return market.exchange.venues[LENDING_VENUE]  # type: ignore[return-value]


def routed_market_order(
    trader: Trader,
    is_buy: bool,
    qty: int,
    route: Literal["book", "amm", "best"],
    purpose: TradePurpose,
    limit_ticks: Fraction | None = None,
) -> int:
    """Send ``qty`` lots to the book or the AMM pool, by ``route``, within ``limit_ticks``.

    ``best`` picks the venue where the size costs less now (`abm.agents.routing.choose_venue`).
    At the book it is a market order, or with a limit an immediate-or-cancel limit order at it
    (rounded down for a buy, up for a sale); at the pool a swap settling at the block's end,
    skipped if the pool price has passed the limit by its turn.

    Returns:
        The step at whose end a swap settles (the AMM block's last step), or 0 for the book.
    """
    market = trader.market
    if route == "amm" or (route == "best" and choose_venue(market, is_buy, qty) == "amm"):
        venue = amm_venue(market)
        venue.swap(trader, is_buy, qty, purpose=purpose, price_limit=limit_ticks)
        step, block = market.step_index, venue.block_steps
        return -(-step // block) * block
    if limit_ticks is None:
        market.book_venue.market(trader, is_buy, qty, purpose=purpose)
    else:
        price = math.floor(limit_ticks) if is_buy else math.ceil(limit_ticks)
        if price > 0:
            market.book_venue.limit(trader, is_buy, price, qty, purpose=purpose, ioc=True)
    return 0


def sale_proceeds_ticks(
    market: Market, qty: int, route: Literal["book", "amm", "best"]
) -> int | None:
    """Ticks selling ``qty`` lots now would bring at ``route`` (the better venue for ``best``).

    None when no allowed venue takes the whole size (a thin book, a refused swap).
    """
    paid: list[int] = []
    if route in ("book", "best"):
        book = book_cost_ticks(market.book, False, qty, market.tick_size)
        if book is not None:
            paid.append(book)
    if route in ("amm", "best"):
        pool = pool_cost_ticks(amm_venue(market), False, qty)
        if pool is not None:
            paid.append(pool)
    return max(paid) if paid else None


class Liquidator(Trader):
    """Liquidates unhealthy pool accounts and sells what it seizes (module docstring).

    Attributes:
        sent: Liquidations it has sent (settled or refused).
    """

    kind = "liquidator"

    def __init__(self, market: Market, group: str, spec: LiquidatorGroup) -> None:
        super().__init__(market, group, spec.cash, spec.inventory)
        self.spec = spec
        self.sent = 0
        self._pending: dict[int, tuple[int, int]] = {}  # borrower -> (due block, ticks held)
        self._busy_until = 0  # a pending AMM sale settles at the end of this step

    def step(self) -> None:
        """Sell seized lots; send the liquidations that pay now."""
        market = self.market
        step = market.step_index
        self._sell(step)
        pool = lending_venue(market)
        block = pool.block_of(step)
        self._pending = {b: due for b, due in self._pending.items() if due[0] >= block}
        spec = self.spec
        budget = self.cash_ticks - sum(held for _, held in self._pending.values())
        gas = pool.gas_ticks_now(step + spec.latency_blocks * pool.block_steps)
        tick = market.tick_size
        for _, account in pool.unhealthy():
            if account == self.unique_id or account in self._pending:
                continue
            preview = pool.preview_liquidation(account)
            if preview is None:
                continue
            repaid, seized = preview
            cost = repaid + gas
            if cost > budget or seized <= 0:
                continue
            proceeds = sale_proceeds_ticks(market, seized, spec.venue)
            if proceeds is None:
                continue
            profit = (proceeds - cost) * tick
            if profit <= spec.min_profit or profit <= 0:
                continue
            request = pool.request_liquidation(self, account, spec.latency_blocks)
            self._pending[account] = (request.due_block, cost)
            self.sent += 1
            budget -= cost

    def _sell(self, step: int) -> None:
        """Sell lots above the starting inventory at the venue, once a pending swap settled."""
        spec = self.spec
        excess = self.inventory - spec.inventory
        if excess <= 0 or step <= self._busy_until:
            return
        qty = min(excess, spec.max_order)
        bid = self.market.book.best_bid_ticks()
        reference = lending_venue(self.market).oracle_price_ticks if bid is None else Fraction(bid)
        floor = reference * (1 - Fraction(spec.max_slippage_bps, 10_000))
        self._busy_until = routed_market_order(
            self, False, qty, spec.venue, TradePurpose.LIQUIDATION, floor
        )


def build_liquidators(
    market: Market, name: str, spec: LiquidatorGroup, rng: np.random.Generator
) -> BuiltGroup:
    """A ``liquidator`` group: ``spec.count`` liquidators (no draws from ``rng``)."""
    return BuiltGroup([Liquidator(market, name, spec) for _ in range(spec.count)])


GROUP_KIND = GroupKind("liquidator", GroupRole.EXECUTOR, build_liquidators)
"""The ``liquidator`` group kind (`abm.agents.registry`)."""
