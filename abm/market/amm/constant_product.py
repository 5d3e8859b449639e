"""A constant-product pool (Uniswap v2): reserves ``x`` (base) and ``y`` (quote), ``x*y`` held.

Pure math, like the order book: no Mesa, no agents. A swap of ``dx`` in (fee ``f``) pays
``dy = y * dx * (1 - f) / (x + dx * (1 - f))`` out (Adams, Zinsmeister & Robinson 2020, the
Uniswap v2 core whitepaper); the whole input, fee included, joins the reserves,
so the fee accrues to the liquidity providers and ``x*y`` grows with every swap.

Exact accounting in integers, rounded in the pool's favour as the contract does: an exact-input
swap's output is rounded down and an exact-output swap's input is rounded up, so ``x*y`` never
decreases; a deposit's amounts are rounded up and a withdrawal's down, so the value of a share
never decreases either. Token balances are conserved exactly: whatever goes in is in the
reserves or went out again.

Liquidity is in *shares*: the first deposit mints ``isqrt(base * quote)`` shares, later ones in
proportion to the reserves. An invalid request raises `InvalidPoolActionError` and leaves the
pool as it was.

Example:
    >>> pool = ConstantProductPool(fee_pips=3000)
    >>> pool.add_liquidity("lp", 1_000_000, 100_000_000).liquidity
    10000000
    >>> pool.swap_exact_input("buy", 1_000_000).amount_out  # 1e6 quote in, base out
    9871
    >>> pool.reserve_base, pool.reserve_quote
    (990129, 101000000)
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from fractions import Fraction

from abm.market.amm.common import (
    FEE_DENOMINATOR,
    InvalidPoolActionError,
    LiquidityChange,
    SwapResult,
    ceil_div,
    check_fee_pips,
    check_int,
    check_price,
    check_side,
)
from abm.market.amm.depth import depth_levels, largest_true
from abm.market.orderbook import Side

__all__ = ["ConstantProductPool"]


class ConstantProductPool:
    """A Uniswap-v2 pool of one base and one quote token.

    Args:
        fee_pips: Swap fee in millionths of the input (3000 = 0.30%, Uniswap v2's fee).

    Raises:
        InvalidPoolActionError: For a fee outside ``[0, 1_000_000)``.
    """

    def __init__(self, fee_pips: object = 3000) -> None:
        self._fee_pips = check_fee_pips(fee_pips)
        self._base = 0
        self._quote = 0
        self._total_shares = 0
        self._shares: dict[Hashable, int] = {}

    # ----- state ------------------------------------------------------------------

    @property
    def fee_pips(self) -> int:
        """Swap fee in millionths of the input."""
        return self._fee_pips

    @property
    def fee(self) -> float:
        """Swap fee as a fraction of the input (0.003 for 3000 pips)."""
        return self._fee_pips / FEE_DENOMINATOR

    @property
    def reserve_base(self) -> int:
        """Base units the pool holds."""
        return self._base

    @property
    def reserve_quote(self) -> int:
        """Quote units the pool holds."""
        return self._quote

    @property
    def total_shares(self) -> int:
        """Liquidity shares outstanding."""
        return self._total_shares

    def shares(self, owner: Hashable) -> int:
        """Shares held by ``owner`` (0 if none)."""
        return self._shares.get(owner, 0)

    def share_holders(self) -> dict[Hashable, int]:
        """Every owner's shares (a copy), in the order they first deposited."""
        return dict(self._shares)

    def set_fee(self, fee_pips: object) -> None:
        """Change the swap fee (a governance vote), from the next swap on.

        Raises:
            InvalidPoolActionError: For a fee outside ``[0, 1_000_000)``.
        """
        self._fee_pips = check_fee_pips(fee_pips)

    def drain(self, base: object, quote: object) -> None:
        """Take ``base`` and ``quote`` units out of the reserves for nothing: an exploit.

        Every share loses its part; the price moves unless both leave in proportion.

        Raises:
            InvalidPoolActionError: For a negative amount, or one that would leave a reserve
                empty.
        """
        base_out = check_int(base, "base", positive=False)
        quote_out = check_int(quote, "quote", positive=False)
        if base_out < 0 or quote_out < 0:
            raise InvalidPoolActionError("base, quote: a drain takes non-negative amounts")
        if base_out >= self._base or quote_out >= self._quote:
            raise InvalidPoolActionError(
                f"base, quote: a drain of {base_out} and {quote_out} would empty a reserve "
                f"({self._base}, {self._quote})"
            )
        self._base -= base_out
        self._quote -= quote_out

    def price_fraction(self) -> Fraction | None:
        """Pool price ``y / x`` as an exact Fraction, or None for an empty pool."""
        return Fraction(self._quote, self._base) if self._base else None

    def price(self) -> float | None:
        """Pool price (quote units per base unit, no fee), or None for an empty pool."""
        return self._quote / self._base if self._base else None

    # ----- liquidity --------------------------------------------------------------

    def add_liquidity(
        self, owner: Hashable, base_max: object, quote_max: object
    ) -> LiquidityChange:
        """Deposit at most ``base_max`` base and ``quote_max`` quote for new shares.

        The first deposit sets the price and mints ``isqrt(base * quote)`` shares; a later one
        mints the most shares both maxima allow at the current reserve ratio and takes the
        amounts those shares are worth, rounded up (at most the maxima).

        Raises:
            InvalidPoolActionError: For a non-positive amount, or amounts too small to mint
                one share.
        """
        base_cap = check_int(base_max, "base_max")
        quote_cap = check_int(quote_max, "quote_max")
        if self._total_shares == 0:
            minted, base_in, quote_in = math.isqrt(base_cap * quote_cap), base_cap, quote_cap
        else:
            total = self._total_shares
            minted = min(base_cap * total // self._base, quote_cap * total // self._quote)
            base_in = ceil_div(minted * self._base, total)
            quote_in = ceil_div(minted * self._quote, total)
        if minted <= 0:
            raise InvalidPoolActionError(
                f"base_max, quote_max: {base_cap} and {quote_cap} are too small to mint a share"
            )
        self._base += base_in
        self._quote += quote_in
        self._total_shares += minted
        self._shares[owner] = self._shares.get(owner, 0) + minted
        return LiquidityChange(minted, base_in, quote_in)

    def remove_liquidity(self, owner: Hashable, shares: object) -> LiquidityChange:
        """Burn ``shares`` of ``owner`` for their part of both reserves, rounded down.

        Raises:
            InvalidPoolActionError: For a non-positive amount, or more shares than the owner
                holds.
        """
        burned = check_int(shares, "shares")
        held = self._shares.get(owner, 0)
        if burned > held:
            raise InvalidPoolActionError(
                f"shares: {owner!r} holds {held} shares, cannot remove {burned}"
            )
        total = self._total_shares
        base_out = burned * self._base // total
        quote_out = burned * self._quote // total
        self._base -= base_out
        self._quote -= quote_out
        self._total_shares -= burned
        if burned == held:
            del self._shares[owner]
        else:
            self._shares[owner] = held - burned
        return LiquidityChange(burned, base_out, quote_out)

    # ----- swaps ------------------------------------------------------------------

    def _reserves_for(self, side: Side) -> tuple[int, int]:
        """``(reserve of the input token, reserve of the output token)`` for ``side``."""
        if self._base == 0:
            raise InvalidPoolActionError("pool: has no liquidity; add liquidity before swapping")
        return (self._quote, self._base) if side is Side.BUY else (self._base, self._quote)

    def _output_for(self, reserve_in: int, reserve_out: int, amount_in: int) -> int:
        """Output of an exact input, rounded down (the v2 formula in integers)."""
        net = amount_in * (FEE_DENOMINATOR - self._fee_pips)
        return reserve_out * net // (reserve_in * FEE_DENOMINATOR + net)

    def _input_limit(self, side: Side, limit: Fraction) -> int:
        """The largest input whose swap leaves the price no further than ``limit``."""
        x, y = self._base, self._quote
        g, d = FEE_DENOMINATOR - self._fee_pips, FEE_DENOMINATOR
        num, den = limit.numerator, limit.denominator
        # after a gross input a (net g*a/d), solve price(a) = limit, a quadratic in a:
        # buy  (quote in): (y + a) * (y + g a / d) = limit * x * y
        # sell (base in):  (x + a) * (x + g a / d) = x * y / limit
        if side is Side.BUY:
            qa, qb, qc = g * den, (d + g) * y * den, d * (y * y * den - num * x * y)
        else:
            qa, qb, qc = g * num, (d + g) * x * num, d * (x * x * num - x * y * den)
        if qc >= 0:
            return 0
        guess = (math.isqrt(qb * qb - 4 * qa * qc) - qb) // (2 * qa)
        # the integer root and the rounded-down output keep the price near the limit; search
        # from it for the last input that stays inside (an input of 0 always does)
        return largest_true(lambda amount: self._within(side, amount, limit), guess)

    def _within(self, side: Side, amount_in: int, limit: Fraction) -> bool:
        """Whether an input of ``amount_in`` leaves the price no further than ``limit``."""
        num, den = limit.numerator, limit.denominator
        if side is Side.BUY:
            out = self._output_for(self._quote, self._base, amount_in)
            return out < self._base and (self._quote + amount_in) * den <= num * (self._base - out)
        out = self._output_for(self._base, self._quote, amount_in)
        return out < self._quote and (self._quote - out) * den >= num * (self._base + amount_in)

    def _fee_of(self, amount_in: int) -> int:
        """The fee part of an input: ``amount_in * fee``, rounded up (a label; all stays in)."""
        return ceil_div(amount_in * self._fee_pips, FEE_DENOMINATOR)

    def _result(self, side: Side, amount_in: int, amount_out: int) -> SwapResult:
        before = self._quote / self._base
        if side is Side.BUY:
            after = (self._quote + amount_in) / (self._base - amount_out)
        else:
            after = (self._quote - amount_out) / (self._base + amount_in)
        return SwapResult(side, amount_in, amount_out, self._fee_of(amount_in), before, after)

    def quote_exact_input(
        self, side: object, amount_in: object, *, price_limit: object = None
    ) -> SwapResult:
        """What a swap of exactly ``amount_in`` would do, without doing it.

        Args:
            side: ``"buy"`` (``amount_in`` is quote) or ``"sell"`` (``amount_in`` is base).
            amount_in: Input units, fee included.
            price_limit: If given, the swap stops where the pool price would pass it (above
                the price for a buy, below for a sell) and uses only the input needed; a
                limit the price already reached gives a swap of nothing.

        Raises:
            InvalidPoolActionError: For a bad side or amount, a limit on the wrong side of the
                price, an empty pool, or an input too small to buy one unit (without a limit).
        """
        trade = check_side(side)
        amount = check_int(amount_in, "amount_in")
        limit = None if price_limit is None else check_price(price_limit, "price_limit")
        reserve_in, reserve_out = self._reserves_for(trade)
        if limit is not None:
            price = Fraction(self._quote, self._base)
            if (limit < price) if trade is Side.BUY else (limit > price):
                raise InvalidPoolActionError(
                    f"price_limit: {float(limit)} is on the wrong side of the pool price "
                    f"{float(price)} for a {trade}"
                )
            amount = min(amount, self._input_limit(trade, limit))
            if amount == 0 or self._output_for(reserve_in, reserve_out, amount) == 0:
                return self._result(trade, 0, 0)
        out = self._output_for(reserve_in, reserve_out, amount)
        if out == 0:
            raise InvalidPoolActionError(
                f"amount_in: {amount} is too small to receive one unit out"
            )
        return self._result(trade, amount, out)

    def quote_exact_output(self, side: object, amount_out: object) -> SwapResult:
        """What a swap receiving exactly ``amount_out`` would cost, without doing it.

        ``side`` ``"buy"``: ``amount_out`` is base; ``"sell"``: it is quote. The input is
        rounded up.

        Raises:
            InvalidPoolActionError: For a bad side or amount, an empty pool, or an output of the
                whole reserve or more.
        """
        trade = check_side(side)
        amount = check_int(amount_out, "amount_out")
        reserve_in, reserve_out = self._reserves_for(trade)
        if amount >= reserve_out:
            raise InvalidPoolActionError(
                f"amount_out: {amount} is not below the pool's reserve of {reserve_out}"
            )
        needed = ceil_div(
            reserve_in * amount * FEE_DENOMINATOR,
            (reserve_out - amount) * (FEE_DENOMINATOR - self._fee_pips),
        )
        return self._result(trade, needed, amount)

    def _apply(self, result: SwapResult) -> SwapResult:
        if result.side is Side.BUY:
            self._quote += result.amount_in
            self._base -= result.amount_out
        else:
            self._base += result.amount_in
            self._quote -= result.amount_out
        return result

    def swap_exact_input(
        self, side: object, amount_in: object, *, price_limit: object = None
    ) -> SwapResult:
        """Swap exactly ``amount_in`` (or up to ``price_limit``); see `quote_exact_input`."""
        return self._apply(self.quote_exact_input(side, amount_in, price_limit=price_limit))

    def swap_exact_output(self, side: object, amount_out: object) -> SwapResult:
        """Swap for exactly ``amount_out``; see `quote_exact_output`."""
        return self._apply(self.quote_exact_output(side, amount_out))

    # ----- views ------------------------------------------------------------------

    def depth(
        self, side: object, levels: object = 10, *, tick_size: object
    ) -> list[tuple[float, int]]:
        """Quantity the pool offers at each price tick, best first, as the book's ``depth``.

        ``side`` is the book side the pool's liquidity stands on: ``"sell"`` lists the asks
        (base a buyer can take), ``"buy"`` the bids (base a seller can sell). A level's price
        is an all-in price (fee included) on the grid of ``tick_size``, and its quantity the
        base units traded while the marginal all-in price moves from the previous level to
        it; the levels are the first ``levels`` ticks from the best all-in price (the pool
        price times ``1 - fee`` for bids, divided by it for asks), without empty ones. A view
        in floating point, each cumulative quantity rounded down.

        Raises:
            InvalidPoolActionError: For a bad side, tick size or level count, or an empty pool.
        """
        book_side = check_side(side)
        if self._base == 0:
            raise InvalidPoolActionError("pool: has no liquidity to show")
        k, gamma = float(self._base) * float(self._quote), 1.0 - self.fee
        x = float(self._base)

        def cumulative(price: float) -> float:
            # base out while the marginal all-in buy price rises to `price`, or base in while
            # the marginal all-in sell price falls to it (the swap formula, differentiated)
            if book_side is Side.SELL:
                return max(0.0, x - math.sqrt(k / (price * gamma)))
            return max(0.0, (math.sqrt(k * gamma / price) - x) / gamma)

        return depth_levels(
            book_side, self._quote / self._base, gamma, levels, tick_size, cumulative
        )
