"""The lending venue: one lending pool (`abm.market.lending.pool`) beside the book and the AMM.

Units: one base unit of the pool is one lot of the underlying, one quote unit one tick of cash,
so a pool price is ticks per lot. The venue is the pool's account: its ``cash_ticks`` are the
pool's cash plus the gas its liquidations paid (the block producer's account), its
``position`` (lots) the collateral deposited, so that `abm.model.MarketModel.totals` counts
every lot and tick wherever it is and conserves both exactly. The protocol supplies
``initial_supply`` at the start (protocol-owned, like the AMM's initial liquidity).

Positions are held instruments (`abm.market.venue.Instrument.held`): ``"<venue>.collateral"``
(lots deposited), ``"<venue>.debt"`` (minus the account's *scaled* debt: the debt is
``scaled * borrow_index``, so interest accrues without a move) and ``"<venue>.supply"``
(scaled supply). The venue holds minus every trader's holding, so each total is zero; a debt
written off as bad debt leaves both sides at once. `value_holdings` values collateral at the
oracle price and debt and supply at the indices.

Clock: the oracle (and a *shadow* oracle of the same design fed the fundamental) observes its
source at ``open_step`` of every step, at time ``step * step_seconds``; the book's mid (its
last trade, then the fundamental, while a side is empty), the AMM pool's price, or the
fundamental. At a block's last step (`close_trading`, after every trader has acted and after
the AMM's swaps), the pool accrues a block of interest, then settles the block's liquidation
requests in the order sent: each is refused (counted) if the borrower is healthy by then, the
block's capacity is used up (``max_liquidations_per_block``, tightened by
``liquidation_congestion`` shocks), or the liquidator cannot pay the repayment and gas. A
settled liquidation moves the repayment and gas from the liquidator's cash, the seized
collateral to its inventory, and is one ``liquidations`` row; each block is one ``lending`` row.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final, cast

from abm.market.lending.accounts import PoolAccounts
from abm.market.lending.params import RAY, LendingError
from abm.market.lending.pool import LendingPool
from abm.market.venue import UNDERLYING, Account, Instrument, VenueContext
from abm.results.lending_summary import next_round_index

if TYPE_CHECKING:
    from abm.market.exchange import Exchange
    from abm.market.lending.oracles import Oracle
    from abm.market.lending.records import AccrualResult
    from abm.scenario.lending import LendingSpec
    from abm.shocks import LiquidationCongestionShock

__all__ = ["PROTOCOL", "LendingVenue", "LiquidationRequest", "build_lending_venue"]

PROTOCOL: Final = "protocol"
"""The pool account of the protocol's initial supply."""
_MICRO: Final = 10**6  # prices enter the oracle at a millionth of a tick


@dataclass(slots=True)
class LiquidationRequest:
    """A liquidation sent to the pool, waiting for its block's end.

    Attributes:
        liquidator: Who repays and receives the collateral.
        borrower: The agent id of the account to liquidate.
        due_block: The first block at whose end it may settle (latency).
    """

    liquidator: Account
    borrower: int
    due_block: int


@dataclass(slots=True)
class _Block:
    """What the current block has done so far (for its ``lending`` row)."""

    liquidations: int = 0
    collateral_seized: int = 0
    debt_repaid: int = 0
    bad_debt: int = 0
    gas_paid: int = 0
    refused: int = 0
    induced: bool = False
    capacity: int = -1


def _ticks(value: float) -> Fraction:
    """A price in ticks per lot as an exact rational, to a millionth of a tick."""
    return Fraction(round(value * _MICRO), _MICRO)


class LendingVenue(PoolAccounts):
    """A lending pool as a venue: oracle, block settlement, liquidations, ``lending`` rows.

    Its accounts (deposits, borrows, repayments, supply, valuation) are `PoolAccounts`'.

    Args:
        name: The venue's name (``"lending"``): the prefix of its held instruments.
        spec: The scenario's ``lending`` section.
        block_steps: Steps per block.
        tick_size: Price of one tick.
        exchange: The exchange (traders by id, the book and AMM venues, the recorder).
        shocks: The scenario's shocks (``liquidation_congestion`` are taken; others ignored).
    """

    instrument: Instrument = UNDERLYING

    def __init__(
        self,
        name: str,
        spec: LendingSpec,
        block_steps: int,
        tick_size: float,
        exchange: Exchange[Any],
        shocks: tuple[object, ...] = (),
    ) -> None:
        pool = LendingPool(spec.rate_model(), spec.risk_params())
        pool.supply(PROTOCOL, max(1, round(spec.initial_supply / tick_size)))
        super().__init__(name, pool, tick_size)
        self.spec = spec
        self.block_steps = block_steps
        self.exchange = exchange
        self.oracle = spec.oracle.build()
        self.shadow: Oracle = spec.oracle.build()
        self._gas = round(spec.liquidation_gas / tick_size)
        self._congestion: list[LiquidationCongestionShock] = [
            cast("LiquidationCongestionShock", shock)
            for shock in shocks
            if getattr(shock, "kind", None) == "liquidation_congestion"
        ]
        self._queue: list[LiquidationRequest] = []
        self._block = _Block()
        self._accrual: AccrualResult | None = None
        self._round = 0
        self._step = 0

    # ----- state ------------------------------------------------------------------

    def block_ends(self, step: int) -> bool:
        """Whether ``step`` is the last step of a block (liquidations settle then)."""
        return step > 0 and step % self.block_steps == 0

    def block_of(self, step: int) -> int:
        """The block holding ``step`` (block ``b`` ends at step ``b * block_steps``)."""
        return -(-step // self.block_steps)

    @property
    def oracle_price_ticks(self) -> Fraction:
        """The oracle's reading, ticks per lot."""
        return self.oracle.price

    def oracle_price(self) -> float:
        """The oracle's reading, price units."""
        return float(self.oracle.price) * self.tick_size

    def health_factor(self, trader: Account) -> float:
        """``trader``'s health factor at the oracle price (``inf`` without debt)."""
        return self.health_of(trader.unique_id)

    def health_of(self, account: Hashable) -> float:
        """The health factor of pool account ``account`` at the oracle price."""
        if not self.pool.has_account(account):
            return math.inf
        return self.pool.health_factor(account, self.oracle.price)

    def gas_ticks_now(self, step: int) -> int:
        """The gas a liquidation settling at the block holding ``step`` costs, ticks."""
        multiplier = 1.0
        end = self.block_of(step) * self.block_steps
        for shock in self._congestion:
            if shock.step <= end < shock.step + shock.duration_steps:
                multiplier *= shock.gas_multiplier
        return round(self._gas * multiplier)

    def capacity(self, step: int) -> int | None:
        """Liquidations the block ending at ``step`` can carry (None: no limit)."""
        limit = self.spec.max_liquidations_per_block
        for shock in self._congestion:
            if shock.step <= step < shock.step + shock.duration_steps:
                cap = shock.max_liquidations
                limit = cap if limit is None else min(limit, cap)
        return limit

    def unhealthy(self) -> list[tuple[Fraction, int]]:
        """``(health, account)`` of every trader account below one at the oracle, lowest first."""
        pool, price = self.pool, self.oracle.price
        out = []
        for account in pool.accounts_with_debt():
            if not isinstance(account, int):
                continue
            health = pool.exact_health(account, price)
            if health is not None and health < 1:
                out.append((health, account))
        out.sort()
        return out

    def preview_liquidation(self, borrower: int) -> tuple[int, int] | None:
        """``(repaid ticks, seized lots)`` of liquidating ``borrower`` now, or None if healthy."""
        try:
            debt = self.pool.debt_of(borrower)
            return self.pool.preview_liquidation(borrower, debt, self.oracle.price)
        except LendingError:
            return None

    # ----- the Venue hooks --------------------------------------------------------

    def open_step(self, step: int, fundamental: float) -> None:
        """Feed the oracle its source and the shadow oracle the fundamental (ticks per lot)."""
        self._step = step
        time_s = step * self.spec.step_seconds
        fundamental_ticks = _ticks(fundamental / self.tick_size)
        self.oracle.observe(time_s, self._source_ticks(fundamental_ticks))
        self.shadow.observe(time_s, fundamental_ticks)
        if step == 1 and self.spec.dealer_positions:
            self._open_dealer_positions()

    def _source_ticks(self, fundamental_ticks: Fraction) -> Fraction:
        source = self.spec.oracle.observes
        if source == "fundamental":
            return fundamental_ticks
        if source == "amm":
            amm = self.exchange.venues["amm"]
            return _ticks(amm.price_ticks())  # type: ignore[attr-defined]
        book_venue = self.exchange.book_venue
        if book_venue is not None:
            book = book_venue.book
            bid, ask = book.best_bid_ticks(), book.best_ask_ticks()
            if bid is not None and ask is not None:
                return Fraction(bid + ask, 2)
        last = self.exchange.last_price_ticks
        return Fraction(last) if last is not None else fundamental_ticks

    def open_trading(self, step: int) -> None:
        """Nothing: liquidations are queued whenever they come."""

    def close_trading(self, step: int) -> None:
        """At a block's last step: accrue a block's interest, settle the queued liquidations."""
        if not self.block_ends(step):
            return
        self._accrual = self.pool.accrue(self.block_steps * self.spec.step_seconds)
        block = self._block
        capacity = self.capacity(step)
        block.capacity = -1 if capacity is None else capacity
        gas = self.gas_ticks_now(step)
        now = self.block_of(step)
        waiting = []
        for request in self._queue:
            if request.due_block > now:
                waiting.append(request)
                continue
            full = capacity is not None and block.liquidations >= capacity
            if full or not self._settle(request, gas):
                block.refused += 1
        self._queue = waiting
        self._round = next_round_index(self._round, block.liquidations, block.induced)
        self._sync()

    def record(self, step: int) -> None:
        """One ``lending`` row at step 0 and at every block's last step."""
        if step != 0 and not self.block_ends(step):
            return
        pool, block, accrual = self.pool, self._block, self._accrual
        utilisation = pool.utilisation_ray()
        rate = pool.rate_model.borrow_rate_ray(utilisation)
        if accrual is not None and step != 0:
            utilisation, rate = accrual.utilisation_ray, accrual.borrow_rate_ray
        supply_rate = pool.rate_model.supply_rate_ray(utilisation, pool.risk.reserve_factor_bps)
        self.exchange.recorder.lending(
            (
                step,
                self.block_of(step),
                self.oracle_price(),
                float(self.shadow.price) * self.tick_size,
                utilisation / RAY,
                rate / RAY,
                supply_rate / RAY,
                pool.borrow_index_ray / RAY,
                pool.liquidity_index_ray / RAY,
                pool.total_supplied,
                pool.total_borrowed,
                pool.cash,
                pool.reserves,
                pool.deficit,
                pool.total_collateral,
                block.liquidations,
                block.collateral_seized,
                block.debt_repaid,
                block.bad_debt,
                block.gas_paid,
                len(self.unhealthy()),
                block.refused,
                block.capacity,
                self._round if step != 0 else 0,
            )
        )
        self._block = _Block()

    # ----- liquidations -----------------------------------------------------------

    def request_liquidation(
        self, liquidator: Account, borrower: int, latency_blocks: int = 0
    ) -> LiquidationRequest:
        """Queue a liquidation of ``borrower``'s account, settling ``latency_blocks`` blocks on.

        With latency 0 it settles at the end of the current block. Repays up to the close
        factor of the debt at the oracle price then (`LendingPool.liquidate`).

        Raises:
            LendingError: For a latency below 0.
        """
        if isinstance(latency_blocks, bool) or latency_blocks < 0:
            raise LendingError(f"latency_blocks: must be at least 0, got {latency_blocks!r}")
        due = self.block_of(self._step) + latency_blocks
        request = LiquidationRequest(liquidator, borrower, due)
        self._queue.append(request)
        return request

    @property
    def queued(self) -> int:
        """Liquidation requests waiting for their block's end."""
        return len(self._queue)

    def _settle(self, request: LiquidationRequest, gas: int) -> bool:
        """Settle one request if the borrower is still liquidatable and it is funded."""
        pool, price = self.pool, self.oracle.price
        borrower, liquidator = request.borrower, request.liquidator
        preview = self.preview_liquidation(borrower)
        if preview is None:
            return False
        repaid, _ = preview
        if liquidator.cash_ticks < repaid + gas:
            return False
        trader = self.exchange.traders[borrower]
        debt = pool.debt_of(borrower)
        shadow_health = pool.exact_health(borrower, self.shadow.price)
        scaled_before = pool.scaled_balances(borrower)[1]
        result = pool.liquidate(liquidator.unique_id, borrower, debt, price)
        burned = scaled_before - pool.scaled_balances(borrower)[1]
        liquidator.cash_ticks -= result.repaid + gas
        self.gas_ticks += gas
        liquidator.inventory += result.collateral_seized
        self._move(trader, self.collateral_instrument, -result.collateral_seized)
        self._move(trader, self.debt_instrument, burned)
        block = self._block
        block.liquidations += 1
        block.collateral_seized += result.collateral_seized
        block.debt_repaid += result.repaid
        block.bad_debt += result.bad_debt
        block.gas_paid += gas
        induced = shadow_health is not None and shadow_health >= 1
        block.induced = block.induced or induced
        self.exchange.recorder.liquidation(
            (
                self._step,
                liquidator.unique_id,
                borrower,
                result.repaid,
                result.collateral_seized,
                result.bad_debt,
                gas,
                result.health_factor_before,
                float(price) * self.tick_size,
                int(induced),
            )
        )
        self._sync()
        return True

    def _open_dealer_positions(self) -> None:
        """The scenario's market-maker positions (`abm.scenario.lending.DealerPosition`)."""
        makers = [t for t in self.exchange.traders.values() if t.kind == "market_maker"]
        for position in self.spec.dealer_positions:
            if position.maker >= len(makers):
                continue  # the cross-check refuses it; a count of 0 switches the group off
            maker = makers[position.maker]
            lots = min(position.collateral, max(maker.inventory, 0))
            if lots > 0:
                self.deposit_collateral(maker, lots)
            wanted = round(position.borrow / self.tick_size)
            ticks = min(wanted, self.borrow_limit_ticks(maker))
            if ticks > 0:
                self.borrow(maker, ticks)


def build_lending_venue(name: str, context: VenueContext) -> LendingVenue:
    """The scenario's lending venue (its ``lending`` section).

    Blocks: the section's ``block_steps``, else the ``amm`` section's, else one step.
    """
    scenario = context.scenario
    spec = scenario.lending
    block_steps = spec.block_steps
    if block_steps is None:
        block_steps = scenario.amm.block_steps if scenario.amm is not None else 1
    return LendingVenue(
        name,
        spec,
        block_steps,
        scenario.tick_size,
        cast("Exchange[Any]", context.exchange),
        tuple(scenario.shocks),
    )
