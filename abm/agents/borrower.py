"""Leveraged borrowers of the lending pool: lever up to a target, de-lever under stress.

The rule is `abm.scenario.lending_groups.BorrowerGroup`'s. With ``C`` lots deposited, debt
``D`` (ticks), the oracle price ``P`` (ticks per lot) and the pool's liquidation threshold
``t``, leverage is ``L = C P / (C P - D)`` and the health factor ``h = C P t / D``; at the
target leverage ``L*`` the health factor is ``h* = t L* / (L* - 1)``. At each action:

1. every lot held is deposited as collateral;
2. if ``h < delever_health``: cash held repays debt; without cash, it withdraws and sells
   the ``q`` lots whose sale, repaid, brings ``h`` back to ``h*``,
   ``q = (h* D - C P t) / (P (h* - t))``, as far as the pool lets it withdraw (keeping
   ``h >= 1``) and at most ``max_order``;
3. else, below the target, it borrows up to the target debt ``C P (1 - 1 / L*)`` (within the
   borrow limit and the pool's cash) and buys lots with its cash, deposited next time.

Its orders are priced within ``max_slippage_bps`` of the oracle price (a buy at most that
above it, a sale at least that below: immediate-or-cancel at the book, a price guard at the
pool). Trades go to its ``venue`` (book, AMM pool or the cheaper, `abm.agents.liquidator.
routed_market_order`); while an AMM swap of its is pending it only deposits.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING

from abm.agents.base import Market, Trader
from abm.agents.groups import BuiltGroup, GroupKind, GroupRole
from abm.agents.liquidator import lending_venue, routed_market_order
from abm.agents.routing import amm_venue
from abm.market.lending.params import BPS, LendingError
from abm.results.events import TradePurpose

if TYPE_CHECKING:
    import numpy as np

    from abm.market.lending.venue import LendingVenue
    from abm.scenario.lending_groups import BorrowerGroup

__all__ = ["GROUP_KIND", "Borrower"]

_CASH_SHARE = Fraction(98, 100)  # of its cash a buy spends at the price it sees: room for impact


class Borrower(Trader):
    """Levers up through the pool and de-levers when its health falls (module docstring).

    Attributes:
        borrowed_ticks: Cash borrowed so far, ticks.
        repaid_ticks: Debt repaid so far, ticks.
    """

    kind = "borrower"

    def __init__(self, market: Market, group: str, spec: BorrowerGroup) -> None:
        super().__init__(market, group, spec.cash, spec.inventory)
        self.spec = spec
        self.borrowed_ticks = 0
        self.repaid_ticks = 0
        self._busy_until = 0  # a pending AMM swap settles at the end of this step

    def step(self) -> None:
        """Deposit, then de-lever or lever up (module docstring)."""
        market, spec = self.market, self.spec
        step = market.step_index
        if step < spec.start_step or (step - spec.start_step) % spec.check_steps:
            return
        pool = lending_venue(market)
        if self.inventory > 0:
            pool.deposit_collateral(self, self.inventory)
        if step <= self._busy_until:
            return
        collateral = pool.collateral_lots(self)
        if collateral <= 0:
            return
        price = pool.oracle_price_ticks
        debt = pool.debt_ticks(self)
        threshold = Fraction(pool.spec.liquidation_threshold_bps, BPS)
        if debt > 0 and collateral * price * threshold < Fraction(spec.delever_health) * debt:
            self._delever(pool, collateral, debt, price, threshold)
            return
        if self._affordable(price) > 0:  # cash from an earlier borrow or sale: buy with it first
            self._buy(price)
            return
        target = collateral * price * (1 - 1 / Fraction(spec.target_leverage))
        wanted = math.floor(target) - debt
        amount = min(wanted, pool.borrow_limit_ticks(self))
        if amount < price:  # not worth a lot
            return
        try:
            pool.borrow(self, amount)
        except LendingError:
            return
        self.borrowed_ticks += amount
        self._buy(price)

    def _affordable(self, price: Fraction) -> int:
        """Lots its cash pays for at what it sees now (the ask, or the pool's all-in price)."""
        market = self.market
        per_lot = price
        ask = market.book.best_ask_ticks()
        if self.spec.venue == "book" and ask is not None:
            per_lot = Fraction(ask)
        elif self.spec.venue == "amm":
            pool = amm_venue(market)
            per_lot = Fraction(pool.price_ticks()) / pool.gamma_fraction()
        return max(0, math.floor(self.cash_ticks * _CASH_SHARE / per_lot))

    def _buy(self, price: Fraction) -> None:
        """Buy as many lots as its cash pays for, up to ``max_order``, near the oracle price."""
        spec = self.spec
        qty = min(spec.max_order, self._affordable(price))
        if qty > 0:
            limit = price * (1 + Fraction(spec.max_slippage_bps, BPS))
            self._busy_until = routed_market_order(
                self, True, qty, spec.venue, TradePurpose.TAKER, limit
            )

    def _delever(
        self,
        pool: LendingVenue,
        collateral: int,
        debt: int,
        price: Fraction,
        threshold: Fraction,
    ) -> None:
        """Repay with cash held, else withdraw and sell the lots that restore the target."""
        if self.cash_ticks > 0:
            repaid = pool.repay(self, min(self.cash_ticks, debt))
            self.repaid_ticks += repaid
            return
        leverage = Fraction(self.spec.target_leverage)
        target_health = threshold * leverage / (leverage - 1)
        needed = (target_health * debt - collateral * price * threshold) / (
            price * (target_health - threshold)
        )
        free = collateral - debt / (price * threshold)  # withdrawable, keeping h >= 1
        qty = min(math.ceil(needed), math.floor(free) - 1, self.spec.max_order)
        if qty <= 0:
            return  # it cannot withdraw: liquidators will come
        try:
            pool.withdraw_collateral(self, qty)
        except LendingError:
            return
        limit = price * (1 - Fraction(self.spec.max_slippage_bps, BPS))
        self._busy_until = routed_market_order(
            self, False, qty, self.spec.venue, TradePurpose.TAKER, limit
        )


def build_borrowers(
    market: Market, name: str, spec: BorrowerGroup, rng: np.random.Generator
) -> BuiltGroup:
    """A ``borrower`` group: ``spec.count`` borrowers (no draws from ``rng``)."""
    return BuiltGroup([Borrower(market, name, spec) for _ in range(spec.count)])


GROUP_KIND = GroupKind("borrower", GroupRole.EXECUTOR, build_borrowers)
"""The ``borrower`` group kind (`abm.agents.registry`)."""
