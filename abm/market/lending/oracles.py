"""Price oracles for a lending pool, fed one observation at a time (pure: no Mesa, no venues).

An oracle turns a stream of observed prices into the price the pool values collateral at.
Each is fed ``observe(time_s, price)`` with strictly increasing integer times (seconds, the
block timestamps) and positive finite prices (quote per base unit); it returns its reading,
an exact `fractions.Fraction`, which stays readable as ``oracle.price`` until the next
observation. The kinds:

- `LatestPriceOracle` (``book_mid``): the latest observation, as a protocol that reads the
  book's mid (or a pool's spot price) in the block. Moves with every print, so with every
  manipulation.
- `TwapOracle` (``amm_twap``): a time-weighted average of a pool price over the last
  ``window_s`` seconds, the Uniswap v2 way (Adams, Zinsmeister & Robinson 2020, section 2.2):
  an accumulator adds ``price * dt`` for the time ``dt`` each price held, and the average over
  a window is ``(C(t) - C(t - window)) / window``. See the class for the exact convention.
- `DelayedOracle` (``delayed_fundamental``): the observation ``delay_steps`` observations
  back, as a feed that reports a reference value (the fundamental) late.
- `PushOracle` (``push``): a Chainlink-style feed that publishes a new price only when it
  deviates from the last published one by at least ``deviation_bps`` or when ``heartbeat_s``
  seconds have passed since the last update (Chainlink's deviation threshold and heartbeat).

A bad parameter or observation (NaN, a price at or below zero, a time that does not
increase) raises `LendingError` naming the field, and leaves the oracle as it was. Each kind
has a pydantic spec (``kind``-discriminated, `OracleSpec`) for a scenario section.
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Mapping
from fractions import Fraction
from typing import Annotated, ClassVar, Final, Literal, Protocol, SupportsIndex

from pydantic import Field

from abm.market.lending.params import BPS, LendingError, check_price, shown
from abm.scenario.types import KindSpec, NonNegInt, PosInt

__all__ = [
    "ORACLE_KINDS",
    "Q112",
    "AmmTwapOracleSpec",
    "BookMidOracleSpec",
    "DelayedFundamentalOracleSpec",
    "DelayedOracle",
    "LatestPriceOracle",
    "Oracle",
    "OracleSpec",
    "PushOracle",
    "PushOracleSpec",
    "TwapOracle",
]

Q112: Final = 1 << 112
"""Fixed-point one of the TWAP accumulator (Uniswap v2 accumulates UQ112x112 prices)."""


class Oracle(Protocol):
    """What a lending pool's keeper needs of an oracle."""

    def observe(self, time_s: object, price: object) -> Fraction:
        """Take the observation at ``time_s`` and return the reading after it."""
        ...

    @property
    def price(self) -> Fraction:
        """The reading after the latest observation."""
        ...


def _check_parameter(value: object, name: str, *, minimum: int) -> int:
    """An integer parameter at least ``minimum`` (not a bool or float), else `LendingError`."""
    if isinstance(value, bool) or not isinstance(value, int | SupportsIndex):
        raise LendingError(f"{name}: must be an integer, got {shown(value)}")
    try:
        number = operator.index(value)
    except TypeError:
        raise LendingError(f"{name}: must be an integer, got {shown(value)}") from None
    if number < minimum:
        raise LendingError(f"{name}: must be at least {minimum}, got {number}")
    return number


class _Clock:
    """The time check every oracle shares: integer seconds, strictly increasing."""

    __slots__ = ("_last_time",)

    def __init__(self) -> None:
        self._last_time: int | None = None

    def check(self, time_s: object) -> int:
        if isinstance(time_s, bool) or not isinstance(time_s, int | SupportsIndex):
            raise LendingError(f"time_s: must be an integer of seconds, got {shown(time_s)}")
        try:
            now = operator.index(time_s)
        except TypeError:
            raise LendingError(
                f"time_s: must be an integer of seconds, got {shown(time_s)}"
            ) from None
        if self._last_time is not None and now <= self._last_time:
            raise LendingError(
                f"time_s: must increase, got {now} after an observation at {self._last_time}"
            )
        return now

    def advance(self, now: int) -> None:
        self._last_time = now


def _no_reading() -> LendingError:
    return LendingError("price: the oracle has no observation yet; call observe first")


class LatestPriceOracle:
    """The latest observed price: a book's mid or a pool's spot price, read in the block."""

    __slots__ = ("_clock", "_price")

    def __init__(self) -> None:
        self._clock = _Clock()
        self._price: Fraction | None = None

    def observe(self, time_s: object, price: object) -> Fraction:
        """Take ``price`` at ``time_s``; the reading is ``price`` itself."""
        now = self._clock.check(time_s)
        exact = check_price(price)
        self._clock.advance(now)
        self._price = exact
        return exact

    @property
    def price(self) -> Fraction:
        """The latest observation."""
        if self._price is None:
            raise _no_reading()
        return self._price


class TwapOracle:
    """Time-weighted average of a pool price over a trailing window (Uniswap v2 cumulative).

    The convention is the contract's: ``observe(time_s, price)`` is what the first transaction
    of the block at ``time_s`` does in Uniswap v2's ``_update``, so ``price`` is the pool price
    that has held *since the previous observation* (the reserves at the end of the last block).
    The accumulator adds ``floor(price * 2**112) * (time_s - previous time)``, an integer
    (UQ112x112, as the contract; Python integers, so nothing overflows), and the reading at
    ``time_s`` is ``(C(time_s) - C(time_s - window_s)) / (window_s * 2**112)``, exactly. The
    accumulator is linear between observations (one price holds over each interval), so
    ``C(time_s - window_s)`` is interpolated exactly inside the interval that holds it; before
    the first observation the price is taken to have been the first observed one, so a window
    longer than the history is averaged against that starting price. Each reading is below
    the exact average of the observed prices by less than ``2**-112``.

    A price pushed for one block of ``dt`` seconds moves the reading by ``push * dt / window``
    at most: the longer the window, the costlier the manipulation (and the later a real move
    shows).

    Args:
        window_s: The averaging window, seconds (at least 1).

    Raises:
        LendingError: For a window that is not a positive integer.
    """

    __slots__ = ("_clock", "_cumulative", "_history", "_window")

    def __init__(self, window_s: object) -> None:
        self._window = _check_parameter(window_s, "window_s", minimum=1)
        self._clock = _Clock()
        self._cumulative = 0
        # (time, cumulative at that time, fixed-point price that held up to that time)
        self._history: deque[tuple[int, int, int]] = deque()

    @property
    def window_s(self) -> int:
        """The averaging window, seconds."""
        return self._window

    @staticmethod
    def _fixed(price: Fraction) -> int:
        return price.numerator * Q112 // price.denominator

    def _cumulative_at(self, when: int) -> int:
        """``C(when)`` for a time at or before the latest observation."""
        history = self._history
        # drop the observations no window will reach again: the times only increase
        while len(history) >= 2 and history[1][0] <= when:
            history.popleft()
        first_time, first_cumulative, first_price = history[0]
        if when <= first_time:  # before the history: the oldest price held
            return first_cumulative - first_price * (first_time - when)
        next_time, next_cumulative, next_price = history[1]
        return next_cumulative - next_price * (next_time - when)

    def observe(self, time_s: object, price: object) -> Fraction:
        """Accumulate ``price`` over the time since the previous observation; return the TWAP."""
        now = self._clock.check(time_s)
        fixed = self._fixed(check_price(price))
        if self._history:
            self._cumulative += fixed * (now - self._history[-1][0])
        self._history.append((now, self._cumulative, fixed))
        self._clock.advance(now)
        return self.price

    @property
    def price(self) -> Fraction:
        """The TWAP over the window that ends at the latest observation."""
        if not self._history:
            raise _no_reading()
        now = self._history[-1][0]
        start = self._cumulative_at(now - self._window)
        return Fraction(self._cumulative - start, self._window * Q112)


class DelayedOracle:
    """The observation ``delay_steps`` observations back (the first one until there are enough).

    Fed one observation per step, it reports the fundamental ``delay_steps`` steps late, as a
    feed whose reports take time to land; ``delay_steps = 0`` is the latest observation.

    Raises:
        LendingError: For a delay that is not an integer at least 0.
    """

    __slots__ = ("_clock", "_delay", "_recent")

    def __init__(self, delay_steps: object) -> None:
        self._delay = _check_parameter(delay_steps, "delay_steps", minimum=0)
        self._clock = _Clock()
        self._recent: deque[Fraction] = deque(maxlen=self._delay + 1)

    @property
    def delay_steps(self) -> int:
        """Observations of delay."""
        return self._delay

    def observe(self, time_s: object, price: object) -> Fraction:
        """Take ``price`` at ``time_s``; return the observation ``delay_steps`` back."""
        now = self._clock.check(time_s)
        exact = check_price(price)
        self._clock.advance(now)
        self._recent.append(exact)
        return self.price

    @property
    def price(self) -> Fraction:
        """The delayed observation."""
        if not self._recent:
            raise _no_reading()
        return self._recent[0]


class PushOracle:
    """A push feed: publishes on a deviation of ``deviation_bps`` or after ``heartbeat_s``.

    On each observation ``p`` at time ``t`` the feed publishes ``p`` if it has published
    nothing yet, if ``|p / last - 1| >= deviation_bps / 10_000`` (in exact rationals), or if
    ``t - last_update_s >= heartbeat_s``; otherwise the reading stays the last published price
    (Chainlink data feeds: a deviation threshold and a heartbeat, e.g. 50 bp and 3600 s).

    Args:
        deviation_bps: The deviation that triggers an update, basis points (0: every
            observation).
        heartbeat_s: The longest time between updates, seconds (at least 1).

    Raises:
        LendingError: For a deviation outside ``[0, 10_000]`` or a heartbeat below 1.
    """

    __slots__ = ("_clock", "_deviation", "_heartbeat", "_price", "_updated", "_updated_at")

    def __init__(self, deviation_bps: object, heartbeat_s: object) -> None:
        self._deviation = _check_parameter(deviation_bps, "deviation_bps", minimum=0)
        if self._deviation > BPS:
            raise LendingError(f"deviation_bps: must be at most {BPS}, got {self._deviation}")
        self._heartbeat = _check_parameter(heartbeat_s, "heartbeat_s", minimum=1)
        self._clock = _Clock()
        self._price: Fraction | None = None
        self._updated_at: int | None = None
        self._updated = False

    @property
    def updated(self) -> bool:
        """Whether the latest observation published a new price."""
        return self._updated

    @property
    def last_update_s(self) -> int | None:
        """Time of the last published price (None before the first)."""
        return self._updated_at

    def observe(self, time_s: object, price: object) -> Fraction:
        """Publish ``price`` if it deviates enough or the heartbeat is due; return the reading."""
        now = self._clock.check(time_s)
        exact = check_price(price)
        self._clock.advance(now)
        last, at = self._price, self._updated_at
        self._updated = (
            last is None
            or at is None
            or abs(exact - last) * BPS >= self._deviation * last
            or now - at >= self._heartbeat
        )
        if self._updated:
            self._price, self._updated_at = exact, now
        return self.price

    @property
    def price(self) -> Fraction:
        """The last published price."""
        if self._price is None:
            raise _no_reading()
        return self._price


# --- specs ----------------------------------------------------------------------------------

OracleSource = Literal["book", "amm", "fundamental"]
"""What an oracle observes: the book's mid, the AMM pool's price, or the fundamental value."""


class OracleSpecBase(KindSpec):
    """An oracle design: builds a fresh oracle and names the price it observes."""

    kind_noun: ClassVar[str] = "oracle"
    kind: str

    @property
    def observes(self) -> OracleSource:
        """The price the oracle is fed."""
        raise NotImplementedError

    def build(self) -> Oracle:
        """A fresh oracle (no observation yet)."""
        raise NotImplementedError


class BookMidOracleSpec(OracleSpecBase):
    """The book's mid as it stands: `LatestPriceOracle`."""

    kind: Literal["book_mid"] = Field(description="The latest mid of the order book.")

    @property
    def observes(self) -> OracleSource:
        """The book's mid."""
        return "book"

    def build(self) -> Oracle:
        """A `LatestPriceOracle`."""
        return LatestPriceOracle()


class AmmTwapOracleSpec(OracleSpecBase):
    """A time-weighted average of the AMM pool's price: `TwapOracle`."""

    kind: Literal["amm_twap"] = Field(description="A TWAP of the AMM pool's price.")
    window_s: PosInt = Field(description="The averaging window, seconds.")

    @property
    def observes(self) -> OracleSource:
        """The AMM pool's price."""
        return "amm"

    def build(self) -> Oracle:
        """A `TwapOracle` of this window."""
        return TwapOracle(self.window_s)


class DelayedFundamentalOracleSpec(OracleSpecBase):
    """The fundamental value, reported late: `DelayedOracle`."""

    kind: Literal["delayed_fundamental"] = Field(
        description="The fundamental value, some steps late."
    )
    delay_steps: NonNegInt = Field(default=0, description="Steps of delay (0: none).")

    @property
    def observes(self) -> OracleSource:
        """The fundamental."""
        return "fundamental"

    def build(self) -> Oracle:
        """A `DelayedOracle` of this delay."""
        return DelayedOracle(self.delay_steps)


class PushOracleSpec(OracleSpecBase):
    """A Chainlink-style push feed: `PushOracle`."""

    kind: Literal["push"] = Field(description="A feed with a deviation threshold and heartbeat.")
    deviation_bps: NonNegInt = Field(
        default=50, le=BPS, description="Deviation that triggers an update, basis points."
    )
    heartbeat_s: PosInt = Field(default=3600, description="Longest time between updates, s.")
    source: OracleSource = Field(default="book", description="The price the feed aggregates.")

    @property
    def observes(self) -> OracleSource:
        """The price named by ``source``."""
        return self.source

    def build(self) -> Oracle:
        """A `PushOracle` of this threshold and heartbeat."""
        return PushOracle(self.deviation_bps, self.heartbeat_s)


OracleSpec = Annotated[
    BookMidOracleSpec | AmmTwapOracleSpec | DelayedFundamentalOracleSpec | PushOracleSpec,
    Field(discriminator="kind"),
]
"""An oracle design of a scenario: one of the kinds above, chosen by ``kind``."""

ORACLE_KINDS: Mapping[str, type[OracleSpecBase]] = {
    "book_mid": BookMidOracleSpec,
    "amm_twap": AmmTwapOracleSpec,
    "delayed_fundamental": DelayedFundamentalOracleSpec,
    "push": PushOracleSpec,
}
"""Kind -> spec class; each spec builds its own oracle."""
