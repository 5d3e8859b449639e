"""The AMM venue: one pool (`abm.market.amm`) trading the book's instrument beside the book.

Units: one base unit of the pool is one lot of the underlying, one quote unit one tick of cash,
so a pool price is ticks per lot (price units: times ``tick_size``). The venue is the pool's
counterparty account: its ``position`` (lots) and ``cash_ticks`` are the pool's reserves plus
the venue's *outside account* (``outside_base``, ``outside_quote``: what exploits drained and
what an oracle attacker holds between its two swaps), so that `abm.model.MarketModel.totals`
counts every lot and tick wherever it is, and conserves both exactly.

Blocks: swaps sent during a block of ``block_steps`` steps are queued (`AmmVenue.swap`,
`AmmVenue.swap_to_price`) and executed at the block's last step in `close_trading`, after
every trader has acted and before risk and contagion, in the spec's ordering rule
(``arbitrageur_first``: arbitrage swaps first in the order sent, then the others in the order
sent; ``random``: one shuffle of all of them by the venue's own generator). Each executed swap
settles through `abm.market.exchange.Exchange.settle_swap` and is one ``trades`` row with venue
``amm`` (the pool's side is `POOL_ACCOUNT_ID`). A swap the pool refuses when its turn comes (an
exact output beyond the reserves, or an exact swap whose price guard the pool price has
passed: a revert) is counted in the block's ``rejected`` column, not executed.
Deposits and withdrawals are immediate.

Liquidity shares are held instruments (`abm.market.venue.Instrument.held`): a constant-product
pool's shares are ``"<venue>.lp"``; each concentrated position is its own instrument,
``"<venue>.lp.<owner>.<lower>.<upper>"`` (ticks), holding its liquidity ``L``. The venue holds
minus every share it has issued to a trader, so each holdings total is zero. The initial
reserves are protocol-owned liquidity (owner `PROTOCOL`), not anyone's holding.

Valuation (`value_holdings`): at the pool's own state, no fee on the way out. A
constant-product share is worth its part of both reserves at the pool price, ``shares / total *
(reserve_base * P + reserve_quote)``; a concentrated position is worth the principal and
uncollected fees a full withdrawal would pay now, base marked at the pool price ``P``.

Shocks (`abm.shocks`, applied at ``open_step`` of their step unless said): ``pool_exploit``
drains a fraction of the reserves to the outside account (constant product: of the base, the
quote or both reserves, the first two moving the price; concentrated: of every position's
liquidity); ``fee_change`` sets the fee; ``lp_withdrawal`` withdraws a fraction of every
position (traders' tokens to the traders, the protocol's to the outside account);
``oracle_manipulation`` has the outside account swap the pool price by a relative push after
the block's other swaps at the block holding the step, and swap back what it bought first at
the next block.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, cast

from abm.market.amm.common import (
    FEE_DENOMINATOR,
    InvalidPoolActionError,
    LiquidityChange,
    SwapResult,
)
from abm.market.amm.concentrated import ConcentratedLiquidityPool
from abm.market.amm.constant_product import ConstantProductPool
from abm.market.amm.liquidity import liquidity_for_amounts, tick_for_price
from abm.market.amm.lp_ledger import LpLedger
from abm.market.exchange import POOL_ACCOUNT_ID
from abm.market.orderbook import Side
from abm.market.venue import UNDERLYING, Account, Instrument, VenueContext
from abm.results.events import TradePurpose

if TYPE_CHECKING:
    import numpy as np

    from abm.market.amm.spec import AmmSpec
    from abm.market.exchange import Exchange
    from abm.results.recorder import Recorder
    from abm.shocks import (
        FeeChangeShock,
        LpWithdrawalShock,
        OracleManipulationShock,
        PoolExploitShock,
    )

__all__ = ["POOL_ACCOUNT_ID", "PROTOCOL", "AmmVenue", "QueuedSwap", "build_amm_venue"]

PROTOCOL: Final = "protocol"
"""Owner of the pool's initial, protocol-owned liquidity."""
_UNBOUNDED: Final = 1 << 200  # an input no pool absorbs: the price limit decides the size


@dataclass(slots=True)
class QueuedSwap:
    """A swap waiting for its block's end.

    Attributes:
        trader: Who swaps.
        is_buy: True buys base (lots) from the pool, False sells base into it.
        qty: Lots bought (exact output) or sold (exact input); for a price-limited swap the
            largest input it may use (quote ticks on a buy, lots on a sell), or None.
        price_limit: The pool price (ticks per lot) where a price-limited swap stops; for an
            exact-quantity swap a guard (None: none): it is skipped if at its turn the pool
            price is at or past it (above for a buy, below for a sell).
        purpose: The ``purpose`` of its ``trades`` row.
        exact: Whether it is an exact-quantity swap (else price-limited).
    """

    trader: Account
    is_buy: bool
    qty: int | None
    price_limit: Fraction | None
    purpose: TradePurpose
    exact: bool = True


@dataclass(slots=True)
class _Block:
    """What the current block has done so far (for its ``pools`` row)."""

    base_before: int = 0
    quote_before: int = 0
    fees_base: int = 0
    fees_quote: int = 0
    swaps: int = 0
    rejected: int = 0
    volume_base: int = 0
    volume_quote: int = 0


class AmmVenue:
    """An AMM pool as a venue: block settlement, liquidity shares, valuation, ``pools`` rows.

    Args:
        name: The venue's name (``"amm"``): the ``venue`` label of its trades and the prefix
            of its share instruments.
        spec: The scenario's ``amm`` section.
        tick_size: Price of one tick.
        exchange: Where swaps settle and trades are written.
        rng: The venue's own generator (the ``random`` ordering).
        shocks: The scenario's shocks (the pool kinds are taken; others ignored).
    """

    instrument: Instrument = UNDERLYING

    def __init__(
        self,
        name: str,
        spec: AmmSpec,
        tick_size: float,
        exchange: Exchange[Any],
        rng: np.random.Generator,
        shocks: tuple[object, ...] = (),
    ) -> None:
        self.name = name
        self.spec = spec
        self.tick_size = tick_size
        self.exchange = exchange
        self.rng = rng
        self.cash_ticks = 0
        self.position = 0
        self.holdings: dict[str, int] = {}
        self.outside_base = 0  # the outside account: drained by exploits, held by attackers
        self.outside_quote = 0
        self.block_steps = spec.block_steps
        self.pool: ConstantProductPool | ConcentratedLiquidityPool | None = None
        self.share_instrument = Instrument.holding(f"{name}.lp")
        self._positions: dict[str, tuple[Hashable, int, int]] = {}  # instrument -> position
        self._queue: list[QueuedSwap] = []
        self._block = _Block()
        self._shocks: dict[int, list[object]] = {}
        for shock in shocks:
            if getattr(shock, "kind", None) in POOL_SHOCK_KINDS:
                self._shocks.setdefault(shock.step, []).append(shock)  # type: ignore[attr-defined]
        self._manipulation: tuple[bool, int] | None = None  # (attacker bought, base held)
        self._push_at_block_end: list[float] = []
        self.lp_ledger = LpLedger()  # each owner's fees, LVR and P&L (lp_ledger)
        self._fundamental = 0.0  # the step's external price (price units)

    # ----- state ------------------------------------------------------------------

    @property
    def concentrated(self) -> bool:
        """Whether the pool is a concentrated-liquidity pool."""
        return self.spec.pool == "concentrated"

    def _pool(self) -> ConstantProductPool | ConcentratedLiquidityPool:
        if self.pool is None:
            raise RuntimeError("the AMM pool is opened at step 0 (open_step)")
        return self.pool

    def _price_fraction(self) -> Fraction:
        price = self._pool().price_fraction()
        assert price is not None  # the protocol liquidity never leaves entirely
        return price

    def price_ticks(self) -> float:
        """The pool price, ticks per lot (no fee)."""
        price = self._pool().price()
        assert price is not None  # the protocol liquidity never leaves entirely
        return price

    def price(self) -> float:
        """The pool price, price units (no fee)."""
        return self.price_ticks() * self.tick_size

    def pool_tick(self) -> int:
        """A concentrated pool's current tick (the largest tick at or below its price)."""
        pool = self._pool()
        if not isinstance(pool, ConcentratedLiquidityPool):
            raise InvalidPoolActionError("tick: only a concentrated pool has ticks")
        return pool.tick

    def gamma(self) -> float:
        """One minus the fee: buying costs ``P / gamma`` at the margin, selling gets ``P gamma``."""
        return 1.0 - self._pool().fee

    def gamma_fraction(self) -> Fraction:
        """One minus the fee, exactly."""
        return 1 - Fraction(self._pool().fee_pips, FEE_DENOMINATOR)

    def block_ends(self, step: int) -> bool:
        """Whether ``step`` is the last step of a block (its queued swaps settle then)."""
        return step > 0 and step % self.block_steps == 0

    def quote(self, is_buy: bool, qty: int) -> SwapResult | None:
        """What buying (exact output) or selling (exact input) ``qty`` lots would do now.

        None if the pool refuses it (more than its reserve, too small).
        """
        pool = self._pool()
        try:
            if is_buy:
                return pool.quote_exact_output(Side.BUY, qty)
            return pool.quote_exact_input(Side.SELL, qty)
        except InvalidPoolActionError:
            return None

    def quote_to_price(self, is_buy: bool, price_limit: Fraction) -> SwapResult | None:
        """What a swap now to the pool price ``price_limit`` (ticks per lot) would do, or None."""
        pool = self._pool()
        side = Side.BUY if is_buy else Side.SELL
        try:
            result = pool.quote_exact_input(side, _UNBOUNDED, price_limit=price_limit)
        except InvalidPoolActionError:
            return None
        return result if result.amount_in and result.amount_out else None

    # ----- the Venue hooks --------------------------------------------------------

    def open_step(self, step: int, fundamental: float) -> None:
        """Open the pool at step 0 (at ``price`` or the fundamental); apply the step's shocks."""
        self._fundamental = fundamental
        if step == 0 and self.pool is None:
            self._open_pool(fundamental)
            return
        for shock in self._shocks.get(step, ()):
            POOL_SHOCK_KINDS[shock.kind](self, shock)  # type: ignore[attr-defined]

    def open_trading(self, step: int) -> None:
        """Nothing: swaps are queued whenever they come."""

    def close_trading(self, step: int) -> None:
        """At a block's last step: execute the queued swaps in the ordering rule."""
        if not self.block_ends(step):
            return
        pool = self._pool()
        block = self._block
        block.base_before, block.quote_before = pool.reserve_base, pool.reserve_quote
        self.lp_ledger.before_swaps(pool)
        if self._manipulation is not None:  # the attacker swaps back first
            self._reverse_manipulation()
        queue, self._queue = self._queue, []
        if self.spec.ordering == "random":
            if len(queue) > 1:
                order = self.rng.permutation(len(queue))
                queue = [queue[i] for i in order]
        else:
            first = [s for s in queue if s.purpose is TradePurpose.ARBITRAGE]
            queue = first + [s for s in queue if s.purpose is not TradePurpose.ARBITRAGE]
        for swap in queue:
            self._execute(swap)
        for push in self._push_at_block_end:
            self._manipulate(push)
        self._push_at_block_end = []

    def value_holdings(self, holdings: Mapping[str, int]) -> float:
        """Value (price units) of the pool's share instruments in ``holdings`` (see the module)."""
        if not holdings or self.pool is None:
            return 0.0
        pool = self.pool
        value_ticks = 0.0
        if isinstance(pool, ConstantProductPool):
            shares = holdings.get(self.share_instrument.name, 0)
            if shares:
                value_ticks = shares / pool.total_shares * 2.0 * pool.reserve_quote
        else:
            price = pool.price()
            for name, liquidity in holdings.items():
                key = self._positions.get(name)
                if key is None or not liquidity:
                    continue
                view = pool.position(*key)
                if view is not None:
                    base = view.base + view.fees_base
                    value_ticks += base * price + view.quote + view.fees_quote
        return value_ticks * self.tick_size

    def record(self, step: int) -> None:
        """One ``pools`` row at step 0 and at every block's last step."""
        if step != 0 and not self.block_ends(step):
            return
        pool = self._pool()
        block = self._block
        if step == 0:
            block.base_before, block.quote_before = pool.reserve_base, pool.reserve_quote
        recorder: Recorder = self.exchange.recorder
        recorder.pool(
            step,
            self.name,
            self.price(),
            pool.reserve_base,
            pool.reserve_quote,
            block.base_before,
            block.quote_before,
            pool.total_shares if isinstance(pool, ConstantProductPool) else pool.liquidity,
            pool.fee,
            block.fees_base,
            block.fees_quote,
            block.swaps,
            block.rejected,
            block.volume_base,
            block.volume_quote,
            self.outside_base,
            self.outside_quote,
        )
        if step != 0:
            price_ticks = self._fundamental / self.tick_size
            self.lp_ledger.close_block(pool, price_ticks, block.fees_base, block.fees_quote)
        self._block = _Block()

    # ----- swaps ------------------------------------------------------------------

    def swap(
        self,
        trader: Account,
        is_buy: bool,
        qty: int,
        *,
        purpose: TradePurpose,
        price_limit: Fraction | None = None,
    ) -> QueuedSwap:
        """Queue buying (exact output) or selling (exact input) ``qty`` lots for the block's end.

        ``price_limit`` (ticks per lot), if given, guards it: the swap is skipped if, at its
        turn, the pool price is at or above it for a buy (at or below for a sell).

        Raises:
            InvalidPoolActionError: For a quantity that is not a positive integer.
        """
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            raise InvalidPoolActionError(f"qty: must be a positive number of lots, got {qty!r}")
        guard = None if price_limit is None else Fraction(price_limit)
        swap = QueuedSwap(trader, is_buy, qty, guard, purpose)
        self._queue.append(swap)
        return swap

    def swap_to_price(
        self,
        trader: Account,
        is_buy: bool,
        price_limit: Fraction,
        *,
        purpose: TradePurpose = TradePurpose.ARBITRAGE,
        max_input: int | None = None,
    ) -> QueuedSwap:
        """Queue a swap that trades the pool price to ``price_limit`` (ticks per lot) and stops.

        At its turn it buys base while the price is below the limit (or sells while above),
        using at most ``max_input`` (quote ticks on a buy, lots on a sell; None: no cap).

        Raises:
            InvalidPoolActionError: For a limit that is not a positive number.
        """
        limit = Fraction(price_limit)
        if not limit > 0:
            raise InvalidPoolActionError(f"price_limit: must be positive, got {price_limit!r}")
        swap = QueuedSwap(trader, is_buy, max_input, limit, purpose, exact=False)
        self._queue.append(swap)
        return swap

    @property
    def queued(self) -> int:
        """Swaps waiting for the block's end."""
        return len(self._queue)

    def _execute(self, swap: QueuedSwap) -> None:
        pool = self._pool()
        side = Side.BUY if swap.is_buy else Side.SELL
        limit = swap.price_limit
        if limit is not None:
            price = self._price_fraction()
            if (price >= limit) if swap.is_buy else (price <= limit):
                # past its guard an exact swap reverts (counted); a price-limited one has
                # nothing left to do
                self._block.rejected += swap.exact
                return
        try:
            if swap.exact:
                assert swap.qty is not None
                if swap.is_buy:
                    result = pool.swap_exact_output(side, swap.qty)
                else:
                    result = pool.swap_exact_input(side, swap.qty)
            else:
                cap = _UNBOUNDED if swap.qty is None else swap.qty
                result = pool.swap_exact_input(side, cap, price_limit=swap.price_limit)
        except InvalidPoolActionError:
            self._block.rejected += 1
            return
        if not (result.amount_in and result.amount_out):
            return
        self._settle(swap.trader, result, swap.purpose)

    def _settle(self, trader: Account, result: SwapResult, purpose: TradePurpose) -> None:
        """Move the swap's lots and ticks between ``trader`` and the venue; count it."""
        base, quote = result.base_qty, result.quote_qty
        is_buy = result.side is Side.BUY
        price = quote / base * self.tick_size
        self.exchange.settle_swap(trader, self, base if is_buy else -base, quote, price, purpose)
        self._count(result)

    def _count(self, result: SwapResult) -> None:
        """Add an executed swap to the block's ``pools`` row."""
        base, quote = result.base_qty, result.quote_qty
        is_buy = result.side is Side.BUY
        block = self._block
        block.swaps += 1
        block.volume_base += base
        block.volume_quote += quote
        # the exact fee, in millionths of a unit: ``fee_pips`` millionths of the input (the
        # swap result's own ``fee`` is a label rounded up to a whole unit)
        fee = result.amount_in * self._pool().fee_pips
        if is_buy:
            block.fees_quote += fee
        else:
            block.fees_base += fee

    # ----- liquidity --------------------------------------------------------------

    def _open_pool(self, fundamental: float) -> None:
        spec = self.spec
        price_ticks = Fraction(spec.price if spec.price is not None else fundamental)
        price_ticks /= Fraction(self.tick_size)
        base = spec.reserve_base
        quote = round(price_ticks * base)
        if isinstance(spec.price, float) or spec.price is None:
            price_ticks = Fraction(quote, base)  # the pool price is the reserves' ratio
        if spec.pool == "constant_product":
            product = ConstantProductPool(spec.fee_pips)
            change = product.add_liquidity(PROTOCOL, base, quote)
            self.pool = product
        else:
            ranged = ConcentratedLiquidityPool(price_ticks, spec.fee_pips, spec.tick_spacing)
            lower, upper = self._range_ticks(ranged, spec.range_lower, spec.range_upper)
            liquidity = liquidity_for_amounts(ranged, lower, upper, base, quote)
            change = ranged.add_liquidity(PROTOCOL, lower, upper, liquidity)
            self.pool = ranged
        self.position += change.base
        self.cash_ticks += change.quote

    def _range_ticks(
        self, pool: ConcentratedLiquidityPool, lower: float | None, upper: float | None
    ) -> tuple[int, int]:
        """Pool ticks of a price range (price units) on the pool's spacing, or the full range."""
        if lower is None or upper is None:
            return pool.full_range()
        spacing = pool.tick_spacing
        low = tick_for_price(lower / self.tick_size, spacing, round_up=False)
        high = tick_for_price(upper / self.tick_size, spacing, round_up=True)
        return low, max(high, low + spacing)

    def range_ticks(self, lower: float, upper: float) -> tuple[int, int]:
        """Pool ticks ``[lower, upper)`` of a price range in price units, on the spacing."""
        pool = self._pool()
        if not isinstance(pool, ConcentratedLiquidityPool):
            raise InvalidPoolActionError("range: only a concentrated pool has ranges")
        return self._range_ticks(pool, lower, upper)

    def position_instrument(self, owner: int, lower: int, upper: int) -> Instrument:
        """The held instrument of ``owner``'s concentrated position over ``[lower, upper)``."""
        return Instrument.holding(f"{self.name}.lp.{owner}.{lower}.{upper}")

    def deposit(
        self,
        trader: Account,
        base_max: int,
        quote_max: int,
        ticks: tuple[int, int] | None = None,
    ) -> LiquidityChange:
        """Deposit at most ``base_max`` lots and ``quote_max`` ticks of ``trader``'s now.

        Constant product: for shares at the reserves' ratio. Concentrated: liquidity over the
        pool ticks ``ticks`` (None: the full range), the most both maxima allow. The trader's
        lots and ticks move to the venue and it receives the shares (its holding).

        Raises:
            InvalidPoolActionError: For amounts too small or a bad range (nothing moves).
        """
        pool = self._pool()
        owner = trader.unique_id
        if isinstance(pool, ConstantProductPool):
            change = pool.add_liquidity(owner, base_max, quote_max)
            instrument = self.share_instrument
        else:
            lower, upper = pool.full_range() if ticks is None else ticks
            liquidity = liquidity_for_amounts(pool, lower, upper, base_max, quote_max)
            change = pool.add_liquidity(owner, lower, upper, liquidity)
            instrument = self.position_instrument(owner, lower, upper)
            self._positions[instrument.name] = (owner, lower, upper)
        self._move_liquidity(trader, instrument, change, deposit=True)
        return change

    def withdraw(
        self, trader: Account, liquidity: int, ticks: tuple[int, int] | None = None
    ) -> LiquidityChange:
        """Withdraw ``liquidity`` (shares, or a position's ``L``) of ``trader``'s, with its fees.

        The principal (and a concentrated position's fees, collected) go to the trader.

        Raises:
            InvalidPoolActionError: For more than the trader holds (nothing moves).
        """
        pool = self._pool()
        owner = trader.unique_id
        if isinstance(pool, ConstantProductPool):
            change = pool.remove_liquidity(owner, liquidity)
            instrument = self.share_instrument
        else:
            lower, upper = pool.full_range() if ticks is None else ticks
            removed = pool.remove_liquidity(owner, lower, upper, liquidity)
            # a position left with no liquidity and no fees is gone already
            gone = pool.position(owner, lower, upper) is None
            fees = (0, 0) if gone else pool.collect(owner, lower, upper)
            change = LiquidityChange(
                removed.liquidity, removed.base + fees[0], removed.quote + fees[1]
            )
            instrument = self.position_instrument(owner, lower, upper)
        self._move_liquidity(trader, instrument, change, deposit=False)
        return change

    def _move_liquidity(
        self, trader: Account, instrument: Instrument, change: LiquidityChange, *, deposit: bool
    ) -> None:
        sign = 1 if deposit else -1
        trader.inventory -= sign * change.base
        trader.cash_ticks -= sign * change.quote
        self.position += sign * change.base
        self.cash_ticks += sign * change.quote
        name = instrument.name
        trader.holdings[name] = trader.holdings.get(name, 0) + sign * change.liquidity
        self.holdings[name] = self.holdings.get(name, 0) - sign * change.liquidity
        if not deposit and not trader.holdings[name]:
            del trader.holdings[name]
            del self.holdings[name]
            self._positions.pop(name, None)

    def lp_positions(self, trader: Account) -> list[tuple[str, int]]:
        """``trader``'s share instruments of this pool and its liquidity in each."""
        prefix = f"{self.name}.lp"
        return [
            (name, qty)
            for name, qty in trader.holdings.items()
            if (name == prefix or name.startswith(prefix + ".")) and qty
        ]

    def position_ticks(self, instrument_name: str) -> tuple[int, int] | None:
        """The ``(lower, upper)`` pool ticks of a concentrated position instrument, or None."""
        key = self._positions.get(instrument_name)
        return None if key is None else (key[1], key[2])

    # ----- shocks -----------------------------------------------------------------

    def _exploit(self, shock: PoolExploitShock) -> None:
        """Drain ``fraction`` of the reserves to the outside account (`pool_exploit`).

        A constant-product pool loses that fraction of the ``token`` reserve (``both``: of
        each, the price unmoved; one token alone: the price jumps); a concentrated pool loses
        that fraction of every position's liquidity, both tokens as each holds them.
        """
        fraction = Fraction(shock.fraction)
        pool = self._pool()
        if isinstance(pool, ConstantProductPool):
            base = math.floor(pool.reserve_base * fraction) if shock.token != "quote" else 0
            quote = math.floor(pool.reserve_quote * fraction) if shock.token != "base" else 0
            pool.drain(base, quote)
            self.outside_base += base
            self.outside_quote += quote
            return
        for view in pool.positions():
            amount = math.floor(view.liquidity * fraction)
            if amount > 0:
                change = pool.remove_liquidity(view.owner, view.lower, view.upper, amount)
                self._to_outside(change)
                if view.owner != PROTOCOL:
                    self._burn(view.owner, view.lower, view.upper, amount)

    def _burn(self, owner: Hashable, lower: int, upper: int, liquidity: int) -> None:
        """``owner``'s holding of a position shrinks by ``liquidity`` it no longer has."""
        name = self.position_instrument(owner, lower, upper).name  # type: ignore[arg-type]
        trader = self.exchange.traders[cast("int", owner)]
        trader.holdings[name] -= liquidity
        self.holdings[name] += liquidity

    def _fee_change(self, shock: FeeChangeShock) -> None:
        self._pool().set_fee(shock.fee_pips)

    def _lp_withdrawal(self, shock: LpWithdrawalShock) -> None:
        """Withdraw ``fraction`` of every position (`lp_withdrawal`)."""
        fraction = Fraction(shock.fraction)
        pool = self._pool()
        traders = self.exchange.traders
        if isinstance(pool, ConstantProductPool):
            for owner, shares in pool.share_holders().items():
                amount = math.floor(shares * fraction)
                if amount <= 0:
                    continue
                if owner == PROTOCOL:
                    self._to_outside(pool.remove_liquidity(owner, amount))
                else:
                    self.withdraw(traders[cast("int", owner)], amount)
            return
        for view in pool.positions():
            amount = math.floor(view.liquidity * fraction)
            if amount <= 0:
                continue
            if view.owner == PROTOCOL:
                self._to_outside(pool.remove_liquidity(PROTOCOL, view.lower, view.upper, amount))
            else:
                self.withdraw(traders[cast("int", view.owner)], amount, (view.lower, view.upper))

    def _to_outside(self, change: LiquidityChange) -> None:
        """Tokens leaving the pool for the outside account: they stay in the venue's account."""
        self.outside_base += change.base
        self.outside_quote += change.quote

    def _schedule_manipulation(self, shock: OracleManipulationShock) -> None:
        self._push_at_block_end.append(shock.push)

    def _manipulate(self, push: float) -> None:
        """The outside account swaps the pool price by ``push`` (relative) for one block.

        A flash-loan attacker: it pays from the outside account, which may go negative until
        the swap back at the next block (`_reverse_manipulation`).
        """
        pool = self._pool()
        target = self._price_fraction() * Fraction(1.0 + push)
        side = Side.BUY if push > 0 else Side.SELL
        try:
            result = pool.swap_exact_input(side, _UNBOUNDED, price_limit=target)
        except InvalidPoolActionError:
            return
        if result.amount_out:
            self._outside_swap(result)
            self._manipulation = (side is Side.BUY, result.amount_out)

    def _reverse_manipulation(self) -> None:
        """The attacker swaps back what it received, before the block's other swaps."""
        assert self._manipulation is not None
        bought, amount = self._manipulation
        self._manipulation = None
        side = Side.SELL if bought else Side.BUY
        try:
            result = self._pool().swap_exact_input(side, amount)
        except InvalidPoolActionError:
            return
        self._outside_swap(result)

    def _outside_swap(self, result: SwapResult) -> None:
        """A swap by the outside account: its lots and ticks move inside the venue's account.

        It counts in the block's swaps, volume and fees (no ``trades`` row: no agent trades).
        """
        self._count(result)
        if result.side is Side.BUY:
            self.outside_quote -= result.amount_in
            self.outside_base += result.amount_out
        else:
            self.outside_base -= result.amount_in
            self.outside_quote += result.amount_out


POOL_SHOCK_KINDS: Mapping[str, Callable[[AmmVenue, Any], None]] = MappingProxyType(
    {
        "pool_exploit": AmmVenue._exploit,
        "fee_change": AmmVenue._fee_change,
        "lp_withdrawal": AmmVenue._lp_withdrawal,
        "oracle_manipulation": AmmVenue._schedule_manipulation,
    }
)
"""Pool shock kind -> how the venue applies it (`abm.shocks`)."""


def build_amm_venue(name: str, context: VenueContext) -> AmmVenue:
    """The scenario's AMM venue (its ``amm`` section), with the venue's own generator."""
    scenario = context.scenario
    return AmmVenue(
        name,
        scenario.amm,
        scenario.tick_size,
        cast("Exchange[Any]", context.exchange),
        context.rng,
        tuple(scenario.shocks),
    )
