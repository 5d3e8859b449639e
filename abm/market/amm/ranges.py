"""The ranges of a concentrated-liquidity pool: positions, ticks and per-position fees.

`RangePositions` is the state a Uniswap-v3-style pool keeps between swaps: the price (a Q64.96
sqrt price and its tick), the active liquidity, the initialized ticks with their net liquidity
and fee growth outside, and each position's liquidity and fees (Adams et al. 2021, the Uniswap
v3 core whitepaper, section 6). Deposits, withdrawals and fee collection live here;
`abm.market.amm.concentrated` adds swaps and views on top.

Fee accounting: fee growth per unit of liquidity, in Q128 integers. A tick stores the growth
on its far side from the price ("outside"), flipped whenever the price crosses it, so the
growth inside any range is ``global - below - above`` and a position's fees are
``L * (inside now - inside at its last touch)``, rounded down. Python ints need none of the
contract's modular wrap-around: inside growth may be negative, its differences never are.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Hashable
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from abm.market.amm.common import (
    FEE_DENOMINATOR,
    InvalidPoolActionError,
    LiquidityChange,
    check_fee_pips,
    check_int,
    check_price,
)
from abm.market.amm.sqrt_price import (
    MAX_TICK,
    MIN_TICK,
    Q96,
    Q128,
    amount_base_delta,
    amount_quote_delta,
    sqrt_price_at_tick,
    sqrt_price_from_price,
    tick_at_sqrt_price,
)

__all__ = ["PositionView", "RangePositions"]


@dataclass(slots=True)
class _Tick:
    gross: int = 0  # total liquidity referencing the tick (it stays initialized while > 0)
    net: int = 0  # liquidity added when the price crosses the tick upwards
    outside_base: int = 0  # fee growth on the other side of the tick from the price
    outside_quote: int = 0


@dataclass(slots=True)
class _Position:
    liquidity: int = 0
    inside_base: int = 0  # fee growth inside the range at the last touch
    inside_quote: int = 0
    owed_base: int = 0  # fees credited and not yet collected
    owed_quote: int = 0


class PositionView(NamedTuple):
    """A snapshot of a position: its liquidity, the principal it holds and its fees.

    ``base`` and ``quote`` are what withdrawing all of it would pay now (rounded down);
    ``fees_base`` and ``fees_quote`` are the fees a `collect` would pay now.
    """

    owner: Hashable
    lower: int
    upper: int
    liquidity: int
    base: int
    quote: int
    fees_base: int
    fees_quote: int


class RangePositions:
    """The price, ticks and positions of a concentrated-liquidity pool (no swaps).

    Args:
        price: Initial pool price (quote units per base unit), an int, float or Fraction.
        fee_pips: Swap fee in millionths of the input (3000 = 0.30%).
        tick_spacing: Position bounds must be multiples of it (60 goes with 0.30% on v3).

    Raises:
        InvalidPoolActionError: For a price outside the tick range, a bad fee or spacing.
    """

    def __init__(self, price: object, fee_pips: object = 3000, tick_spacing: object = 60) -> None:
        self._fee_pips = check_fee_pips(fee_pips)
        self._spacing = check_int(tick_spacing, "tick_spacing")
        exact = check_price(price)
        sqrt_price = sqrt_price_from_price(exact, round_up=False)
        if not sqrt_price_at_tick(MIN_TICK) <= sqrt_price < sqrt_price_at_tick(MAX_TICK):
            raise InvalidPoolActionError(f"price: {float(exact)} is outside the tick range")
        self._sqrt_price = sqrt_price
        self._tick = tick_at_sqrt_price(sqrt_price)
        self._liquidity = 0
        self._growth_base = 0
        self._growth_quote = 0
        self._base = 0
        self._quote = 0
        self._ticks: dict[int, _Tick] = {}
        self._initialized: list[int] = []  # sorted keys of _ticks
        self._positions: dict[tuple[Hashable, int, int], _Position] = {}
        self._sqrt_cache: dict[int, int] = {}

    # ----- state ------------------------------------------------------------------

    @property
    def fee_pips(self) -> int:
        """Swap fee in millionths of the input."""
        return self._fee_pips

    @property
    def fee(self) -> float:
        """Swap fee as a fraction of the input."""
        return self._fee_pips / FEE_DENOMINATOR

    def set_fee(self, fee_pips: object) -> None:
        """Change the swap fee (a governance vote), from the next swap on.

        Raises:
            InvalidPoolActionError: For a fee outside ``[0, 1_000_000)``.
        """
        self._fee_pips = check_fee_pips(fee_pips)

    @property
    def tick_spacing(self) -> int:
        """Position bounds are multiples of this many ticks."""
        return self._spacing

    @property
    def sqrt_price_x96(self) -> int:
        """``sqrt(price) * 2**96``, rounded down: the pool's exact state."""
        return self._sqrt_price

    @property
    def tick(self) -> int:
        """The current tick: the largest tick whose price is at most the pool price."""
        return self._tick

    @property
    def liquidity(self) -> int:
        """Active liquidity ``L``: the sum over positions whose range holds the price."""
        return self._liquidity

    @property
    def reserve_base(self) -> int:
        """Base units the pool holds (principal of every position plus uncollected fees)."""
        return self._base

    @property
    def reserve_quote(self) -> int:
        """Quote units the pool holds."""
        return self._quote

    def price(self) -> float:
        """Pool price (quote units per base unit, no fee)."""
        return float(self.price_fraction())

    def price_fraction(self) -> Fraction:
        """Pool price as an exact Fraction of the Q64.96 state."""
        return Fraction(self._sqrt_price * self._sqrt_price, Q96 * Q96)

    def _sqrt_at(self, tick: int) -> int:
        cached = self._sqrt_cache.get(tick)
        if cached is None:
            cached = self._sqrt_cache[tick] = sqrt_price_at_tick(tick)
        return cached

    def full_range(self) -> tuple[int, int]:
        """The widest ``(lower, upper)`` on this pool's spacing: a v2-like position."""
        return (
            -(MAX_TICK // self._spacing) * self._spacing,
            MAX_TICK // self._spacing * self._spacing,
        )

    # ----- liquidity --------------------------------------------------------------

    def _check_range(self, lower: object, upper: object) -> tuple[int, int]:
        low = check_int(lower, "lower", positive=False)
        high = check_int(upper, "upper", positive=False)
        if low >= high:
            raise InvalidPoolActionError(f"lower, upper: lower {low} must be below upper {high}")
        if low < MIN_TICK or high > MAX_TICK:
            raise InvalidPoolActionError(
                f"lower, upper: [{low}, {high}) leaves the tick range [{MIN_TICK}, {MAX_TICK}]"
            )
        if low % self._spacing or high % self._spacing:
            raise InvalidPoolActionError(
                f"lower, upper: {low} and {high} must be multiples of tick_spacing {self._spacing}"
            )
        return low, high

    def _growth_inside(self, lower: int, upper: int) -> tuple[int, int]:
        """Fee growth per unit of liquidity inside ``[lower, upper)``, both tokens."""
        low, high = self._ticks[lower], self._ticks[upper]
        growth = (self._growth_base, self._growth_quote)
        below = (low.outside_base, low.outside_quote)
        if self._tick < lower:
            below = (growth[0] - below[0], growth[1] - below[1])
        above = (high.outside_base, high.outside_quote)
        if self._tick >= upper:
            above = (growth[0] - above[0], growth[1] - above[1])
        return (growth[0] - below[0] - above[0], growth[1] - below[1] - above[1])

    def _settle_fees(self, position: _Position, lower: int, upper: int) -> None:
        """Credit a position's fees since its last touch."""
        inside_base, inside_quote = self._growth_inside(lower, upper)
        position.owed_base += (inside_base - position.inside_base) * position.liquidity // Q128
        position.owed_quote += (inside_quote - position.inside_quote) * position.liquidity // Q128
        position.inside_base, position.inside_quote = inside_base, inside_quote

    def _principal(self, lower: int, upper: int, liquidity: int, round_up: bool) -> tuple[int, int]:
        """Tokens that ``liquidity`` over ``[lower, upper)`` holds at the current price."""
        sqrt_low, sqrt_high = self._sqrt_at(lower), self._sqrt_at(upper)
        price = min(max(self._sqrt_price, sqrt_low), sqrt_high)
        base = amount_base_delta(price, sqrt_high, liquidity, round_up=round_up)
        quote = amount_quote_delta(sqrt_low, price, liquidity, round_up=round_up)
        return base, quote

    def _touch_tick(self, tick: int, liquidity_delta: int, upper: bool) -> None:
        info = self._ticks.get(tick)
        if info is None:
            info = self._ticks[tick] = _Tick()
            insort(self._initialized, tick)
            if tick <= self._tick:  # by convention all growth so far happened below the tick
                info.outside_base, info.outside_quote = self._growth_base, self._growth_quote
        info.gross += liquidity_delta
        info.net += -liquidity_delta if upper else liquidity_delta

    def _drop_tick_if_unused(self, tick: int) -> None:
        if self._ticks[tick].gross == 0:
            del self._ticks[tick]
            self._initialized.remove(tick)

    def add_liquidity(
        self, owner: Hashable, lower: object, upper: object, liquidity: object
    ) -> LiquidityChange:
        """Add ``liquidity`` to ``owner``'s position over ``[lower, upper)``.

        The owner pays the tokens that liquidity holds at the current price, rounded up: only
        base if the price is below the range, only quote if above it, both if inside.

        Raises:
            InvalidPoolActionError: For a bad range (not ``lower < upper``, off the spacing or
                the tick range) or a non-positive liquidity.
        """
        low, high = self._check_range(lower, upper)
        amount = check_int(liquidity, "liquidity")
        base, quote = self._principal(low, high, amount, round_up=True)
        self._touch_tick(low, amount, upper=False)
        self._touch_tick(high, amount, upper=True)
        key = (owner, low, high)
        position = self._positions.get(key)
        if position is None:
            position = self._positions[key] = _Position()
        self._settle_fees(position, low, high)
        position.liquidity += amount
        if low <= self._tick < high:
            self._liquidity += amount
        self._base += base
        self._quote += quote
        return LiquidityChange(amount, base, quote)

    def remove_liquidity(
        self, owner: Hashable, lower: object, upper: object, liquidity: object
    ) -> LiquidityChange:
        """Withdraw ``liquidity`` from a position; its principal is paid out, rounded down.

        The position's fees so far are credited to it and wait for `collect`.

        Raises:
            InvalidPoolActionError: For a bad range or amount, or more liquidity than the
                position holds.
        """
        low, high = self._check_range(lower, upper)
        amount = check_int(liquidity, "liquidity")
        position = self._positions.get((owner, low, high))
        held = 0 if position is None else position.liquidity
        if position is None or amount > held:
            raise InvalidPoolActionError(
                f"liquidity: {owner!r} holds {held} over [{low}, {high}), cannot remove {amount}"
            )
        base, quote = self._principal(low, high, amount, round_up=False)
        self._settle_fees(position, low, high)
        position.liquidity -= amount
        if low <= self._tick < high:
            self._liquidity -= amount
        self._touch_tick(low, -amount, upper=False)
        self._touch_tick(high, -amount, upper=True)
        self._drop_tick_if_unused(low)
        self._drop_tick_if_unused(high)
        self._base -= base
        self._quote -= quote
        self._forget_if_empty(owner, low, high)
        return LiquidityChange(amount, base, quote)

    def collect(self, owner: Hashable, lower: object, upper: object) -> tuple[int, int]:
        """Pay out a position's uncollected fees as ``(base, quote)``.

        Raises:
            InvalidPoolActionError: For a bad range, or no such position.
        """
        low, high = self._check_range(lower, upper)
        position = self._positions.get((owner, low, high))
        if position is None:
            raise InvalidPoolActionError(f"owner: {owner!r} has no position over [{low}, {high})")
        if position.liquidity:
            self._settle_fees(position, low, high)
        fees = (position.owed_base, position.owed_quote)
        position.owed_base = position.owed_quote = 0
        self._base -= fees[0]
        self._quote -= fees[1]
        self._forget_if_empty(owner, low, high)
        return fees

    def _forget_if_empty(self, owner: Hashable, lower: int, upper: int) -> None:
        position = self._positions[(owner, lower, upper)]
        if position.liquidity == 0 and position.owed_base == 0 and position.owed_quote == 0:
            del self._positions[(owner, lower, upper)]

    def position(self, owner: Hashable, lower: object, upper: object) -> PositionView | None:
        """A snapshot of ``owner``'s position over ``[lower, upper)``, or None if it has none."""
        low, high = self._check_range(lower, upper)
        position = self._positions.get((owner, low, high))
        if position is None:
            return None
        fees = [position.owed_base, position.owed_quote]
        if position.liquidity:
            inside = self._growth_inside(low, high)
            fees[0] += (inside[0] - position.inside_base) * position.liquidity // Q128
            fees[1] += (inside[1] - position.inside_quote) * position.liquidity // Q128
        base, quote = self._principal(low, high, position.liquidity, round_up=False)
        return PositionView(owner, low, high, position.liquidity, base, quote, fees[0], fees[1])

    def positions(self) -> list[PositionView]:
        """Snapshots of every position, in the order they were opened."""
        views = [self.position(owner, low, high) for owner, low, high in self._positions]
        return [view for view in views if view is not None]
