"""A limit order book with price-time priority, integer ticks and self-trade prevention.

The book is a pure data structure: no Mesa, no agents, no I/O. Prices cross its edge
as floats (multiples of ``tick_size``) and live inside it as integer ticks, so that
price comparisons and level keys are exact. Quantities are positive integer lots.

Matching rules:

* Price-time priority: better prices first; within a price level, first in, first out.
* Partial fills: an incoming order trades against as many resting orders as it
  needs, at each resting order's price, and the rest of a limit order rests.
* A market order walks the book; whatever it cannot fill is dropped (never rests).
* An immediate-or-cancel (IOC) limit order trades what it can up to its limit and
  drops the rest.
* Self-trade prevention (on by default, ``OrderBook(self_trade_prevention=True)``):
  an incoming order never trades with a resting order of the same owner. When the
  incoming order reaches such a resting order, the *resting* order is cancelled
  ("cancel resting", as most exchanges default to) and matching continues behind
  it. Every order cancelled this way is reported in
  ``OrderResult.self_trade_cancels`` as ``(order_id, quantity)``.
* Invalid input raises :class:`InvalidOrderError` before the book changes (an argument of
  the wrong type raises its subclass :class:`InvalidOrderTypeError`, also a ``TypeError``):
  sides are the strings ``"buy"``/``"sell"``; quantities, tick prices and order ids are
  integers (``int`` or a numpy integer, never a ``bool`` or a float, even an integral one);
  prices are finite positive numbers on the grid. Tick prices and quantities are at most
  `MAX_PRICE_TICKS` and `MAX_QTY`.
* Owners are opaque: the book stores them and compares them for self-trade prevention,
  by identity, or by value when both are exact ``int`` or both exact ``str`` (so ``1000``
  and ``int("1000")`` are one owner). It never calls an owner's own ``__eq__`` or
  ``__hash__``, so no user code runs while the book is mid-update.

Example:
    >>> book = OrderBook(tick_size=0.01)
    >>> _ = book.limit("alice", "sell", 100.02, 5)
    >>> result = book.market("bob", "buy", 3)
    >>> [(f.price, f.qty, f.maker_owner) for f in result.fills]
    [(100.02, 3, 'alice')]
    >>> book.depth("sell", 1)
    [(100.02, 2)]
"""

from __future__ import annotations

import math
import operator
from bisect import insort
from collections.abc import Callable, Hashable, Sequence
from enum import StrEnum
from typing import Final, NamedTuple, SupportsFloat, SupportsIndex, TypeVar

from abm.errors import AbmError

__all__ = [
    "COMPILED",
    "MAX_PRICE_TICKS",
    "MAX_QTY",
    "Fill",
    "InvalidOrderError",
    "InvalidOrderTypeError",
    "OrderBook",
    "OrderResult",
    "OrderView",
    "Side",
]


# True when this module runs as the C extension that mypyc builds from this file at
# install time (see the README); False when it runs as Python source
COMPILED: Final = not __file__.endswith(".py")

_C = TypeVar("_C")

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # mypyc needs it to compile this module; running it does not

    def mypyc_attr(*attrs: str, **kwattrs: object) -> Callable[[_C], _C]:
        """Stand-in for ``mypy_extensions.mypyc_attr``: a decorator that changes nothing."""
        return lambda cls: cls


MAX_PRICE_TICKS: Final = (1 << 53) - 1
"""The largest price in ticks: every tick price up to it is exact as a float."""
MAX_QTY: Final = (1 << 53) - 1
"""The largest quantity of one order, in lots (exact as a float, as analysis tables hold it)."""


# open to subclasses, so that the TypeError variant below can derive from it when compiled
@mypyc_attr(allow_interpreted_subclasses=True)
class InvalidOrderError(AbmError, ValueError):
    """An order, cancel, amend or query that the book refuses; the book is left untouched."""


def _type_error_variant() -> type[InvalidOrderError]:
    # mypyc compiles no class deriving from TypeError, so this one is made at import time
    return type(
        "InvalidOrderTypeError",
        (InvalidOrderError, TypeError),
        {
            "__doc__": "An argument of the wrong type (a float quantity, a bool id, a str "
            "price); the book is left untouched. Also a ``TypeError``.",
            "__module__": __name__,
        },
    )


InvalidOrderTypeError: Final = _type_error_variant()
"""`InvalidOrderError` for an argument of the wrong type; also a ``TypeError``."""


class Side(StrEnum):
    """Order side; compares and hashes equal to the plain strings ``"buy"`` and ``"sell"``."""

    BUY = "buy"
    SELL = "sell"

    __hash__ = str.__hash__


class Fill(NamedTuple):
    """One execution between a resting (maker) order and an incoming (taker) order.

    Immutable; a NamedTuple rather than a dataclass because fills are created on the
    matching hot path and a tuple is the cheapest immutable record to build.
    """

    price: float
    qty: int
    maker_order_id: int
    taker_order_id: int
    maker_owner: Hashable
    taker_owner: Hashable
    price_ticks: int


class OrderResult(NamedTuple):
    """What happened to one incoming order.

    Attributes:
        order_id: Id given to the incoming order (also for market and IOC orders).
        fills: Executions in the order they happened (an empty tuple when none).
        resting_qty: Quantity left resting in the book (0 for market and IOC orders).
        unfilled_qty: Quantity dropped unfilled (market and IOC orders only).
        self_trade_cancels: Resting orders of the same owner cancelled by self-trade
            prevention, as ``(order_id, quantity cancelled)`` (an empty tuple when none).
    """

    order_id: int
    fills: Sequence[Fill]
    resting_qty: int
    unfilled_qty: int
    self_trade_cancels: Sequence[tuple[int, int]]

    @property
    def filled_qty(self) -> int:
        """Total quantity executed."""
        return sum(f.qty for f in self.fills)


class OrderView(NamedTuple):
    """A snapshot of a resting order (``OrderBook.order``)."""

    order_id: int
    owner: Hashable
    side: Side
    price: float
    price_ticks: int
    qty: int
    original_qty: int


class _Level:
    """Orders resting at one price, in time priority.

    ``key`` is the level's key in the book: ``+ticks`` for a bid, ``-ticks`` for an ask
    (so each side's keys sort with the best price last, and one dict holds both sides).
    The queue is ``orders[head:]``: matching advances ``head`` instead of popping the
    front, and the consumed prefix is cut off once it is most of the list. Cancelled
    orders are removed lazily: their remaining quantity drops to zero and matching
    skips them. ``qty`` counts live quantity only (so the level is empty exactly when
    ``qty == 0``); ``dead`` counts lazily cancelled entries still queued, which are
    compacted away when they dominate the queue. A level emptied by a cancel stays in
    the book, empty, until it reaches the top of its side or a purge (see
    ``OrderBook``): quotes cancelled and re-placed at the same price, the commonest
    pattern, then cost no level churn.
    """

    __slots__ = ("dead", "head", "key", "orders", "price", "qty", "ticks")

    def __init__(self, key: int, price: float) -> None:
        self.key = key
        self.ticks = key if key > 0 else -key
        self.price = price
        self.orders: list[_Order] = []
        self.head = 0
        self.qty = 0
        self.dead = 0

    def live_orders(self) -> list[_Order]:
        """The queued orders that still rest, first to trade first."""
        return [o for o in self.orders[self.head :] if o.rem]


class _Order:
    """A resting order; ``rem`` drops to 0 when it is filled or cancelled."""

    __slots__ = ("level", "oid", "orig", "owner", "rem")

    def __init__(self, rem: int, oid: int, owner: Hashable, level: _Level, orig: int) -> None:
        self.rem = rem
        self.oid = oid
        self.owner = owner
        self.level = level
        self.orig = orig


# Below every level key: a market order's limit key, so that it may take any level
_NO_LIMIT: Final = -(1 << 62)
# Consumed or dead queue entries tolerated before a level's queue is compacted
_COMPACT_MIN: Final = 32

# NamedTuple.__new__ is a Python-level wrapper; tuple.__new__ skips it on the hot path
_new_tuple: Final = tuple.__new__
# Final module constants become C statics when mypyc compiles this module (see the
# README): no globals-dict lookup per fill
_FILL: Final = Fill
_RESULT: Final = OrderResult
_NO_FILLS: Final[tuple[Fill, ...]] = ()
_NO_CANCELS: Final[tuple[tuple[int, int], ...]] = ()


def _shown(value: object) -> str:
    """``repr(value)``, cut short: an error message stays one readable line."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _is_buy(side: object) -> bool:
    """Map a side (``Side`` or the strings ``"buy"``/``"sell"``) to True for buy."""
    if isinstance(side, str):
        if side == "buy":
            return True
        if side == "sell":
            return False
        raise InvalidOrderError(f"side: unknown side {_shown(side)}; expected 'buy' or 'sell'")
    raise InvalidOrderTypeError(f"side: must be 'buy' or 'sell', got {_shown(side)}")


def _as_int(value: object, name: str, expected: str) -> int:
    """``value`` as an int if it is an integer (a numpy integer too, never a bool), else raise."""
    if type(value) is int:
        return value
    # numpy integers are fine; bools, floats (even integral ones) and NaN are not
    if not isinstance(value, bool) and isinstance(value, SupportsIndex):
        try:
            return operator.index(value)  # an int, or TypeError
        except TypeError:
            pass
    raise InvalidOrderTypeError(f"{name}: must be {expected}, got {_shown(value)}")


def _check_qty(qty: object) -> int:
    """Return ``qty`` as an int if it is a positive integer up to `MAX_QTY`, else raise."""
    lots = _as_int(qty, "qty", "a positive integer number of lots")
    if lots <= 0:
        raise InvalidOrderError(f"qty: must be a positive integer number of lots, got {lots}")
    if lots > MAX_QTY:
        raise InvalidOrderError(f"qty: at most {MAX_QTY} lots, got {lots}")
    return lots


def _check_ticks(price_ticks: object) -> int:
    """Return ``price_ticks`` as an int if it is a positive integer up to `MAX_PRICE_TICKS`."""
    ticks = _as_int(price_ticks, "price_ticks", "an integer")
    if ticks <= 0:
        raise InvalidOrderError(f"price_ticks: must be positive, got {ticks}")
    if ticks > MAX_PRICE_TICKS:
        raise InvalidOrderError(f"price_ticks: at most {MAX_PRICE_TICKS}, got {ticks}")
    return ticks


def _check_id(order_id: object) -> int:
    """Return ``order_id`` as an int if it is an integer (any value), else raise."""
    return _as_int(order_id, "order_id", "an integer order id")


def _check_price(price: object) -> float:
    """Return ``price`` as a float if it is a positive finite number, else raise."""
    if type(price) is not float and (
        isinstance(price, str | bytes | bool) or not isinstance(price, SupportsFloat)
    ):
        raise InvalidOrderTypeError(f"price: must be a positive number, got {_shown(price)}")
    try:
        value = float(price)
    except OverflowError:  # an int beyond the float range
        raise InvalidOrderError(f"price: {_shown(price)} is too large") from None
    if not value > 0:  # also false for NaN
        raise InvalidOrderError(f"price: must be a positive number, got {_shown(price)}")
    if not math.isfinite(value):
        raise InvalidOrderError(f"price: must be a finite number, got {_shown(price)}")
    return value


def _check_flag(value: object, name: str) -> bool:
    """Return ``value`` if it is a bool, else raise (``ioc="no"`` must not read as True)."""
    if value is True or value is False:
        return value
    raise InvalidOrderTypeError(f"{name}: must be True or False, got {_shown(value)}")


class OrderBook:
    """A single-instrument limit order book.

    Internals: one dict ``key -> _Level`` holds both sides, keyed ``+ticks`` for bids
    and ``-ticks`` for asks, and each side keeps a sorted list of its keys (ascending,
    so the best price is the last element and the levels traded most sit where list
    edits are cheapest). Levels emptied by cancels are kept and skipped lazily; the
    top key of each side is always live (empty levels are dropped as soon as they
    surface there), and all empty levels are dropped at once when levels outnumber
    twice the resting orders (``_purge_empty``; a live level holds at least one
    order), so memory stays proportional to the live book.

    Public methods take ``object`` arguments where the book validates them itself
    (sides, prices, quantities, order ids, counts, flags): a wrong type is an
    `InvalidOrderTypeError`, a bad value an `InvalidOrderError`, raised before the book
    changes, also when this module runs compiled (see the README). No error, whatever
    its cause, leaves the book half-updated: matching calls no user code (owners are
    compared by identity or as plain ints and strs, see the module docstring).

    Args:
        tick_size: Price grid spacing; every limit price must be a multiple of it.
        self_trade_prevention: If True (default), incoming orders cancel, rather than
            trade with, resting orders of the same owner (see the module docstring).

    Raises:
        InvalidOrderError: If ``tick_size`` is not a positive finite number or
            ``self_trade_prevention`` is not a bool.
    """

    def __init__(self, tick_size: object = 0.01, *, self_trade_prevention: object = True) -> None:
        if not (
            isinstance(tick_size, int | float)
            and not isinstance(tick_size, bool)
            and math.isfinite(tick_size)
            and tick_size > 0
        ):
            raise InvalidOrderError(
                f"tick_size: must be a positive finite number, got {_shown(tick_size)}"
            )
        self.tick_size = float(tick_size)
        self.self_trade_prevention = _check_flag(self_trade_prevention, "self_trade_prevention")
        # decimals enough to print every grid price exactly (0.01 -> 4, 0.25 -> 3)
        self._decimals = max(0, -math.floor(math.log10(self.tick_size)) + 2)
        self._levels: dict[int, _Level] = {}  # +ticks for bids, -ticks for asks
        # resting lots of each side, kept with every change so total_qty walks no level
        self._bid_total = 0
        self._ask_total = 0
        self._bid_keys: list[int] = []  # bid ticks ascending -> best bid last
        self._ask_keys: list[int] = []  # negated ask ticks ascending -> best ask last
        self._orders: dict[int, _Order] = {}
        self._next_id = 1

    # ----- price conversion -------------------------------------------------------

    def to_ticks(self, price: object) -> int:
        """Convert a price to integer ticks.

        Raises:
            InvalidOrderError: For NaN, infinite, non-positive or off-grid prices.
        """
        ratio = _check_price(price) / self.tick_size
        if not ratio <= MAX_PRICE_TICKS:  # a finite price can overflow in ticks
            raise InvalidOrderError(
                f"price: {_shown(price)} is too large for the tick grid "
                f"(at most {MAX_PRICE_TICKS} ticks of {self.tick_size})"
            )
        ticks = round(ratio)
        if abs(ratio - ticks) > 1e-6 or not ticks:
            raise InvalidOrderError(
                f"price: {_shown(price)} is not on the tick grid (tick_size {self.tick_size})"
            )
        return ticks

    def to_price(self, ticks: object) -> float:
        """Convert integer ticks (an int or a numpy integer) to a price on the grid.

        Raises:
            InvalidOrderError: If ``ticks`` is not an integer (`InvalidOrderTypeError`) or
                its magnitude exceeds `MAX_PRICE_TICKS`.
        """
        value = _as_int(ticks, "ticks", "an integer")
        if not -MAX_PRICE_TICKS <= value <= MAX_PRICE_TICKS:
            raise InvalidOrderError(f"ticks: at most {MAX_PRICE_TICKS} in magnitude, got {value}")
        return self._price_of(value)

    def _price_of(self, ticks: int) -> float:
        return round(ticks * self.tick_size, self._decimals)

    # ----- order entry ------------------------------------------------------------

    def limit(
        self, owner: Hashable, side: object, price: object, qty: object, *, ioc: object = False
    ) -> OrderResult:
        """Submit a limit order at a float price.

        Args:
            owner: The submitter's id, reported in fills and compared for self-trade
                prevention by identity, or by value between exact ints or exact strs.
            side: ``"buy"`` or ``"sell"`` (or a :class:`Side`).
            price: Limit price, a positive multiple of ``tick_size``.
            qty: Positive integer number of lots, at most `MAX_QTY`.
            ioc: Immediate-or-cancel (a bool): trade what is possible now, never rest.

        Returns:
            The order's id, fills, and how much rests or was dropped.

        Raises:
            InvalidOrderError: For a bad side, price, quantity or ``ioc``
                (`InvalidOrderTypeError` for a wrong type); the book is unchanged.
        """
        _is_buy(side)  # a bad side is reported before a bad price
        return self.limit_ticks(owner, side, self.to_ticks(price), qty, ioc=ioc)

    def limit_ticks(
        self,
        owner: Hashable,
        side: object,
        price_ticks: object,
        qty: object,
        *,
        ioc: object = False,
    ) -> OrderResult:
        """Submit a limit order with its price in integer ticks (the fast path for agents).

        Same contract as :meth:`limit`; ``price_ticks`` must be a positive integer up to
        `MAX_PRICE_TICKS`.
        """
        if isinstance(side, str) and side == "buy":
            is_buy = True
        elif isinstance(side, str) and side == "sell":
            is_buy = False
        else:
            is_buy = _is_buy(side)  # raises
        lots = qty if type(qty) is int and 0 < qty <= MAX_QTY else _check_qty(qty)
        ticks = (
            price_ticks
            if type(price_ticks) is int and 0 < price_ticks <= MAX_PRICE_TICKS
            else _check_ticks(price_ticks)
        )
        if ioc is not False and ioc is not True:
            _check_flag(ioc, "ioc")  # raises
        # Fast path: most limit orders do not cross and go straight to the book. The
        # top key of each side is always a live level (see _drop_empty_top), so one
        # comparison decides whether the order crosses.
        if is_buy:
            keys = self._ask_keys
            if keys and -keys[-1] <= ticks:
                return self._match(owner, True, ticks, lots, ioc is False)
            key = ticks
        else:
            keys = self._bid_keys
            if keys and keys[-1] >= ticks:
                return self._match(owner, False, ticks, lots, ioc is False)
            key = -ticks
        order_id = self._next_id
        self._next_id = order_id + 1
        if ioc is True:
            return _new_tuple(_RESULT, (order_id, _NO_FILLS, 0, lots, _NO_CANCELS))
        level = self._levels.get(key)
        if level is None:
            level = self._new_level(key)
        order = _Order(lots, order_id, owner, level, lots)
        level.orders.append(order)
        level.qty += lots
        if key > 0:
            self._bid_total += lots
        else:
            self._ask_total += lots
        self._orders[order_id] = order
        return _new_tuple(_RESULT, (order_id, _NO_FILLS, lots, 0, _NO_CANCELS))

    def market(self, owner: Hashable, side: object, qty: object) -> OrderResult:
        """Submit a market order: walk the opposite side; drop what cannot be filled.

        Raises:
            InvalidOrderError: For a bad side or quantity (`InvalidOrderTypeError` for a
                wrong type); the book is unchanged.
        """
        if isinstance(side, str) and side == "buy":
            is_buy = True
        elif isinstance(side, str) and side == "sell":
            is_buy = False
        else:
            is_buy = _is_buy(side)  # raises
        lots = qty if type(qty) is int and 0 < qty <= MAX_QTY else _check_qty(qty)
        return self._match(owner, is_buy, 0, lots, False)

    def _match(
        self, owner: Hashable, is_buy: bool, price_ticks: int, qty: int, rest: bool
    ) -> OrderResult:
        """Match an incoming order against the opposite side; rest or drop the remainder.

        ``price_ticks`` is the limit price, or 0 for a market order (which never rests).
        Calls no user code (owners are compared by identity, or as exact ints or strs),
        so nothing can re-enter or interrupt the book between its updates.
        """
        order_id = self._next_id
        self._next_id = order_id + 1
        # the opposite side's keys ascend to its best price; the order may take every
        # key >= limit_key (asks are keyed -ticks, so a buy at p takes keys >= -p)
        if is_buy:
            keys = self._ask_keys
            limit_key = -price_ticks if price_ticks else _NO_LIMIT
        else:
            keys = self._bid_keys
            limit_key = price_ticks if price_ticks else _NO_LIMIT
        levels = self._levels
        orders = self._orders
        prevent = self.self_trade_prevention
        # owners equal by value are one owner only for exact ints and strs, whose
        # comparison runs no user code; any other owner is itself alone
        owner_type = type(owner)
        by_value = owner_type is int or owner_type is str
        fills: list[Fill] = []
        stp: list[tuple[int, int]] | None = None  # self-trade cancels, rarely any
        stp_lots = 0
        remaining = qty
        while keys:
            key = keys[-1]
            level = levels[key]
            if not level.qty:  # an empty level kept from a cancel
                keys.pop()
                del levels[key]
                continue
            if key < limit_key:
                break
            queue = level.orders
            head = level.head
            end = len(queue)
            price = level.price
            ticks = level.ticks
            before = remaining
            while head < end:
                maker = queue[head]
                avail = maker.rem
                if not avail:  # lazily cancelled
                    head += 1
                    level.dead -= 1
                    continue
                maker_owner = maker.owner
                maker_id = maker.oid
                if prevent and (
                    maker_owner is owner
                    or (by_value and type(maker_owner) is owner_type and maker_owner == owner)
                ):
                    head += 1
                    maker.rem = 0
                    del orders[maker_id]
                    if stp is None:
                        stp = []
                    stp.append((maker_id, avail))
                    stp_lots += avail
                    level.qty -= avail
                    continue
                if avail <= remaining:
                    head += 1
                    maker.rem = 0
                    del orders[maker_id]
                    fills.append(
                        _new_tuple(
                            _FILL, (price, avail, maker_id, order_id, maker_owner, owner, ticks)
                        )
                    )
                    remaining -= avail
                    if not remaining:
                        break
                else:
                    maker.rem = avail - remaining
                    fills.append(
                        _new_tuple(
                            _FILL, (price, remaining, maker_id, order_id, maker_owner, owner, ticks)
                        )
                    )
                    remaining = 0
                    break
            left = level.qty - (before - remaining)
            level.qty = left
            if left:  # the order is done and this level stays on top
                if head > _COMPACT_MIN and 2 * head > end:
                    del queue[:head]
                    head = 0
                level.head = head
                break
            keys.pop()
            del levels[key]
            queue.clear()  # its orders point back at the level: free them by refcount, not GC
            if not remaining:
                if keys and not levels[keys[-1]].qty:
                    self._drop_empty_top(keys)
                break
        cancels = _NO_CANCELS if stp is None else stp
        taken = qty - remaining + stp_lots  # filled and self-trade cancelled, opposite side
        if is_buy:
            self._ask_total -= taken
        else:
            self._bid_total -= taken
        if remaining and rest:
            key = price_ticks if is_buy else -price_ticks
            own = levels.get(key)
            if own is None:
                own = self._new_level(key)
            order = _Order(remaining, order_id, owner, own, qty)
            own.orders.append(order)
            own.qty += remaining
            if is_buy:
                self._bid_total += remaining
            else:
                self._ask_total += remaining
            orders[order_id] = order
            return _new_tuple(_RESULT, (order_id, fills, remaining, 0, cancels))
        return _new_tuple(_RESULT, (order_id, fills, 0, remaining, cancels))

    def _new_level(self, key: int) -> _Level:
        """Create the level at ``key`` and insert its key in its side's sorted list."""
        level = self._levels[key] = _Level(key, self._price_of(key if key > 0 else -key))
        insort(self._bid_keys if key > 0 else self._ask_keys, key)
        return level

    def _drop_empty_top(self, keys: list[int]) -> None:
        """Pop empty levels off the top of one side so that its last key is live."""
        levels = self._levels
        while keys and not levels[keys[-1]].qty:
            del levels[keys.pop()]

    def _purge_empty(self) -> None:
        """Drop every empty level (called when they outnumber the live ones)."""
        levels = self._levels
        for keys in (self._bid_keys, self._ask_keys):
            keys[:] = [k for k in keys if levels[k].qty]
        for key in [k for k, level in levels.items() if not level.qty]:
            del levels[key]

    # ----- cancel and amend -------------------------------------------------------

    def cancel(self, order_id: object) -> int:
        """Cancel a resting order.

        Args:
            order_id: An integer (``int`` or a numpy integer; not a bool or a float).

        Returns:
            The quantity cancelled; 0 if the order is unknown or already finished.

        Raises:
            InvalidOrderTypeError: If ``order_id`` is not an integer; the book is unchanged.
        """
        oid = order_id if type(order_id) is int else _check_id(order_id)
        order = self._orders.pop(oid, None)
        if order is None:
            return 0
        qty = order.rem
        order.rem = 0
        level = order.level
        left = level.qty - qty
        level.qty = left
        if level.key > 0:
            self._bid_total -= qty
        else:
            self._ask_total -= qty
        if left:
            dead = level.dead + 1
            level.dead = dead
            if dead > _COMPACT_MIN and 2 * dead > len(level.orders) - level.head:
                level.orders = level.live_orders()
                level.head = 0
                level.dead = 0
            return qty
        level.orders.clear()
        level.head = 0
        level.dead = 0
        key = level.key
        keys = self._bid_keys if key > 0 else self._ask_keys
        if keys[-1] == key:
            self._drop_empty_top(keys)
        elif len(self._levels) > 2 * len(self._orders) + 2 * _COMPACT_MIN:
            self._purge_empty()
        return qty

    def amend(self, order_id: object, qty: object) -> int:
        """Reduce a resting order's quantity to ``qty``, keeping its time priority.

        Args:
            order_id: A resting order.
            qty: The new remaining quantity, a positive integer not above the current one.

        Returns:
            The quantity removed from the order; 0 if the order is unknown or finished.

        Raises:
            InvalidOrderError: If ``order_id`` is not an integer, ``qty`` is not a positive
                integer or exceeds the remaining quantity (an increase would need a new
                order; to remove the order entirely, use :meth:`cancel`).
        """
        oid = _check_id(order_id)
        lots = _check_qty(qty)
        order = self._orders.get(oid)
        if order is None:
            return 0
        if lots > order.rem:
            raise InvalidOrderError(
                f"qty: amend can only reduce an order ({order.rem} resting, {lots} asked); "
                "submit a new order to increase"
            )
        removed = order.rem - lots
        order.rem = lots
        level = order.level
        level.qty -= removed
        if level.key > 0:
            self._bid_total -= removed
        else:
            self._ask_total -= removed
        return removed

    # ----- views ------------------------------------------------------------------

    def best_bid_ticks(self) -> int | None:
        """Highest bid in ticks, or None if there are no bids."""
        return self._bid_keys[-1] if self._bid_keys else None

    def best_ask_ticks(self) -> int | None:
        """Lowest ask in ticks, or None if there are no asks."""
        return -self._ask_keys[-1] if self._ask_keys else None

    def best_bid(self) -> float | None:
        """Highest bid price, or None if there are no bids."""
        keys = self._bid_keys
        return self._levels[keys[-1]].price if keys else None

    def best_ask(self) -> float | None:
        """Lowest ask price, or None if there are no asks."""
        keys = self._ask_keys
        return self._levels[keys[-1]].price if keys else None

    def _side_keys(self, side: object) -> list[int]:
        """The sorted level keys of one side (best last); raises for an unknown side."""
        return self._bid_keys if _is_buy(side) else self._ask_keys

    def depth(self, side: object, levels: object = 10) -> list[tuple[float, int]]:
        """Aggregated price levels of one side, best first, as ``(price, qty)``.

        Raises:
            InvalidOrderError: For a bad side, or ``levels`` not a non-negative integer.
        """
        book = self._levels
        n_levels = _as_int(levels, "levels", "a non-negative integer")
        if n_levels < 0:
            raise InvalidOrderError(f"levels: must be a non-negative integer, got {n_levels}")
        out: list[tuple[float, int]] = []
        for key in reversed(self._side_keys(side)):
            if len(out) >= n_levels:
                break
            lvl = book[key]
            if lvl.qty:
                out.append((lvl.price, lvl.qty))
        return out

    def touch_qty(self, side: object) -> int:
        """Quantity at the best price of one side (0 if empty)."""
        keys = self._side_keys(side)
        return self._levels[keys[-1]].qty if keys else 0

    def total_qty(self, side: object) -> int:
        """Total resting quantity of one side (kept as orders rest and leave: no level walk)."""
        return self._bid_total if _is_buy(side) else self._ask_total

    @staticmethod
    def _view(order: _Order) -> OrderView:
        level = order.level
        side = Side.BUY if level.key > 0 else Side.SELL
        return OrderView(
            order.oid, order.owner, side, level.price, level.ticks, order.rem, order.orig
        )

    def order(self, order_id: object) -> OrderView | None:
        """A snapshot of a resting order, or None if unknown or finished.

        Raises:
            InvalidOrderTypeError: If ``order_id`` is not an integer.
        """
        order = self._orders.get(_check_id(order_id))
        return None if order is None else self._view(order)

    def remaining(self, order_id: object) -> int:
        """Quantity still resting for ``order_id``; 0 if unknown or finished (no view built).

        Raises:
            InvalidOrderTypeError: If ``order_id`` is not an integer.
        """
        oid = order_id if type(order_id) is int else _check_id(order_id)
        order = self._orders.get(oid)
        return 0 if order is None else order.rem

    def level_orders(self, side: object, price: object) -> list[OrderView]:
        """The live orders at one price level, in time priority (first = next to trade)."""
        ticks = self.to_ticks(price)
        level = self._levels.get(ticks if _is_buy(side) else -ticks)
        return [] if level is None else [self._view(o) for o in level.live_orders()]

    def owner_orders(self, owner: Hashable) -> list[OrderView]:
        """All resting orders of one owner (a linear scan: for inspection, not hot paths).

        Owners match as in self-trade prevention: the same object, or equal exact ints or
        exact strs.
        """
        by_value = type(owner) is int or type(owner) is str
        return [
            self._view(o)
            for o in self._orders.values()
            if o.owner is owner or (by_value and type(o.owner) is type(owner) and o.owner == owner)
        ]

    def still_resting(self, order_ids: list[int]) -> list[int]:
        """Those of ``order_ids`` (integers) that rest in the book, in the order given.

        What ``[oid for oid in order_ids if oid in book]`` gives, in one call (compiled with
        the book): a trader's list of its own orders is pruned of filled and cancelled ones.
        """
        orders = self._orders
        return [oid for oid in order_ids if oid in orders]

    def __len__(self) -> int:
        """Number of resting orders."""
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        """Whether ``order_id`` (an integer) rests in the book; False for any non-integer."""
        if type(order_id) is int:
            return order_id in self._orders
        try:
            return _check_id(order_id) in self._orders
        except InvalidOrderError:
            return False  # 1.0 or True is no order id, though it hashes like 1
