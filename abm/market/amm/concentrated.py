"""A concentrated-liquidity pool (Uniswap v3 style): positions over price ranges.

Pure math, like the order book. A liquidity provider (LP) deposits liquidity ``L`` over a
range of ticks ``[lower, upper)`` (prices ``1.0001**lower`` to ``1.0001**upper``); while the
pool price is in the range, the position trades as a constant-product pool with virtual
reserves, ``d(sqrt P) = d(quote) / L`` and ``d(1/sqrt P) = d(base) / L`` (Adams et al. 2021,
the Uniswap v3 core whitepaper, section 6). A swap walks range by range, and the active
liquidity changes by each crossed tick's net liquidity (whitepaper, section 6).

Arithmetic: sqrt prices in Q64.96 integers (`abm.market.amm.sqrt_price`), token amounts in
integer units, every amount rounded in the pool's favour. Fees are taken from each swap's input
and accounted per position through fee growth per unit of liquidity (whitepaper, section 6, in
Q128 integers): a position's fees are ``L * (growth inside now - growth inside at last touch)``,
rounded down. So the pool always holds at least what every position could withdraw plus every
uncollected fee; the excess is rounding dust in the pool's favour.

Withdrawing principal (`remove_liquidity`) pays out at once; fees wait for `collect`.
An invalid request raises `InvalidPoolActionError` and leaves the pool untouched: a swap is
computed on a copy of the few values it changes and applied only when it succeeds.
"""

from __future__ import annotations

from fractions import Fraction

from abm.market.amm.common import (
    InvalidPoolActionError,
    SwapResult,
    check_int,
    check_price,
    check_side,
)
from abm.market.amm.concentrated_swap import Walk, base_to_price, walk_swap
from abm.market.amm.depth import depth_levels
from abm.market.amm.ranges import PositionView, RangePositions
from abm.market.amm.sqrt_price import MAX_TICK, MIN_TICK, Q96, sqrt_price_from_price
from abm.market.orderbook import Side

__all__ = ["ConcentratedLiquidityPool", "PositionView"]


class ConcentratedLiquidityPool(RangePositions):
    """A Uniswap-v3-style pool of one base and one quote token.

    Positions, deposits, withdrawals and fees come from `RangePositions`; this class adds
    swaps (exact input or output, with an optional price limit) and the depth view.

    Args:
        price: Initial pool price (quote units per base unit), an int, float or Fraction.
        fee_pips: Swap fee in millionths of the input (3000 = 0.30%).
        tick_spacing: Position bounds must be multiples of it (60 goes with 0.30% on v3).

    Raises:
        InvalidPoolActionError: For a price outside the tick range, a bad fee or spacing.
    """

    # ----- swaps ------------------------------------------------------------------

    def _walk(
        self, side: object, amount: object, exact_input: bool, price_limit: object
    ) -> tuple[Side, Walk]:
        trade = check_side(side)
        size = check_int(amount, "amount_in" if exact_input else "amount_out")
        buying = trade is Side.BUY
        sqrt_limit = None
        if price_limit is not None:
            limit = check_price(price_limit, "price_limit")
            sqrt_limit = sqrt_price_from_price(limit, round_up=not buying)
            if (sqrt_limit < self._sqrt_price) if buying else (sqrt_limit > self._sqrt_price):
                raise InvalidPoolActionError(
                    f"price_limit: {float(limit)} is on the wrong side of the pool price "
                    f"{self.price()} for a {trade}"
                )
            lowest, highest = self._sqrt_at(MIN_TICK), self._sqrt_at(MAX_TICK)
            sqrt_limit = min(max(sqrt_limit, lowest), highest)
        walk = walk_swap(
            sqrt_price=self._sqrt_price,
            tick=self._tick,
            liquidity=self._liquidity,
            growth=self._growth_quote if buying else self._growth_base,
            initialized=self._initialized,
            net_liquidity={tick: info.net for tick, info in self._ticks.items()},
            sqrt_at=self._sqrt_at,
            fee_pips=self._fee_pips,
            amount=size,
            exact_input=exact_input,
            buying=buying,
            sqrt_limit=sqrt_limit,
        )
        if walk.amount_out == 0 and walk.amount_in and price_limit is None:
            raise InvalidPoolActionError(f"amount_in: {size} is too small to receive one unit out")
        return trade, walk

    def _result(self, trade: Side, walk: Walk) -> SwapResult:
        after = float(Fraction(walk.sqrt_price * walk.sqrt_price, Q96 * Q96))
        return SwapResult(trade, walk.amount_in, walk.amount_out, walk.fee, self.price(), after)

    def quote_exact_input(
        self, side: object, amount_in: object, *, price_limit: object = None
    ) -> SwapResult:
        """What a swap of exactly ``amount_in`` would do, without doing it.

        Args:
            side: ``"buy"`` (``amount_in`` is quote) or ``"sell"`` (``amount_in`` is base).
            amount_in: Input units, fee included.
            price_limit: If given, the swap stops where the pool price would pass it and uses
                only the input needed (crossing empty ranges if it must).

        Raises:
            InvalidPoolActionError: For a bad side or amount, a limit on the wrong side of the
                price, a swap the pool's liquidity cannot fill (without a limit), or an input
                too small to receive one unit.
        """
        trade, walk = self._walk(side, amount_in, True, price_limit)
        return self._result(trade, walk)

    def quote_exact_output(self, side: object, amount_out: object) -> SwapResult:
        """What receiving exactly ``amount_out`` would cost (input rounded up), without doing it.

        ``side`` ``"buy"``: ``amount_out`` is base; ``"sell"``: it is quote.

        Raises:
            InvalidPoolActionError: For a bad side or amount, or more than the pool's liquidity
                can pay.
        """
        trade, walk = self._walk(side, amount_out, False, None)
        return self._result(trade, walk)

    def _apply(self, trade: Side, walk: Walk) -> SwapResult:
        result = self._result(trade, walk)
        buying = trade is Side.BUY
        for tick, growth in walk.crossed:
            info = self._ticks[tick]
            if buying:
                info.outside_quote = growth - info.outside_quote
                info.outside_base = self._growth_base - info.outside_base
            else:
                info.outside_base = growth - info.outside_base
                info.outside_quote = self._growth_quote - info.outside_quote
        if buying:
            self._growth_quote = walk.growth
            self._quote += walk.amount_in
            self._base -= walk.amount_out
        else:
            self._growth_base = walk.growth
            self._base += walk.amount_in
            self._quote -= walk.amount_out
        self._sqrt_price, self._tick, self._liquidity = walk.sqrt_price, walk.tick, walk.liquidity
        return result

    def swap_exact_input(
        self, side: object, amount_in: object, *, price_limit: object = None
    ) -> SwapResult:
        """Swap exactly ``amount_in`` (or up to ``price_limit``); see `quote_exact_input`."""
        trade, walk = self._walk(side, amount_in, True, price_limit)
        return self._apply(trade, walk)

    def swap_exact_output(self, side: object, amount_out: object) -> SwapResult:
        """Swap for exactly ``amount_out``; see `quote_exact_output`."""
        trade, walk = self._walk(side, amount_out, False, None)
        return self._apply(trade, walk)

    # ----- views ------------------------------------------------------------------

    def depth(
        self, side: object, levels: object = 10, *, tick_size: object
    ) -> list[tuple[float, int]]:
        """Quantity the pool offers at each price tick, best first, as the book's ``depth``.

        As `ConstantProductPool.depth`: ``"sell"`` lists asks (base a buyer can take),
        ``"buy"`` bids (base a seller can sell), at all-in prices (fee included) on the grid
        of ``tick_size``, over the first ``levels`` ticks from the best all-in price, empty
        ticks left out; computed in floating point over the ranges, each cumulative
        quantity rounded down.

        Raises:
            InvalidPoolActionError: For a bad side, tick size or level count.
        """
        book_side = check_side(side)
        gamma = 1.0 - self.fee
        nets = {tick: info.net for tick, info in self._ticks.items()}

        def cumulative(price: float) -> float:
            # the marginal all-in price is the pool price over gamma for a buyer and times
            # gamma for a seller, whose gross input is the net one over gamma
            pool_price = price * gamma if book_side is Side.SELL else price / gamma
            base = base_to_price(
                sqrt_price=self._sqrt_price,
                tick=self._tick,
                liquidity=self._liquidity,
                initialized=self._initialized,
                net_liquidity=nets,
                sqrt_at=self._sqrt_at,
                sqrt_target=pool_price**0.5 * float(Q96),
            )
            if book_side is Side.SELL:
                return base if pool_price > self.price() else 0.0
            return base / gamma if pool_price < self.price() else 0.0

        return depth_levels(book_side, self.price(), gamma, levels, tick_size, cumulative)
