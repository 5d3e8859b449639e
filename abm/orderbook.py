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
* Invalid input raises :class:`InvalidOrderError` before the book changes.

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
from bisect import insort
from collections import deque
from collections.abc import Hashable, Sequence
from enum import StrEnum
from typing import NamedTuple, SupportsIndex

__all__ = [
    "Fill",
    "InvalidOrderError",
    "OrderBook",
    "OrderResult",
    "OrderView",
    "Side",
]


class InvalidOrderError(ValueError):
    """An order, cancel or amend that the book refuses; the book is left untouched."""


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


# A resting order is a small list, [remaining, order_id, owner, price_ticks, is_buy,
# original_qty, level]: building a list is several times cheaper than instantiating a
# class, and orders are created on the hot path. Only the fields below are indexed.
_REM, _OID, _OWNER, _TICKS, _IS_BUY, _ORIG, _LEVEL = range(7)


class _Level:
    """Orders resting at one price, FIFO.

    Cancelled orders are removed lazily: their remaining quantity drops to zero and
    they are popped when matching reaches them. ``qty`` counts live quantity only (so
    the level is empty exactly when ``qty == 0``); ``dead`` counts lazily cancelled
    entries still in the deque, which is compacted when they dominate it. A level
    emptied by a cancel stays in the book, empty, until it reaches the top of its
    side or a purge (see ``OrderBook``): quotes that are cancelled and re-placed at
    the same price, the commonest pattern, then cost no level churn.
    """

    __slots__ = ("dead", "orders", "price", "qty")

    def __init__(self, price: float) -> None:
        self.price = price
        self.orders: deque[list] = deque()
        self.qty = 0
        self.dead = 0


# NamedTuple.__new__ is a Python-level wrapper; tuple.__new__ skips it on the hot path
_new_tuple = tuple.__new__
_NO_FILLS: tuple[Fill, ...] = ()
_NO_CANCELS: tuple[tuple[int, int], ...] = ()


def _is_buy(side: object) -> bool:
    """Map a side (``Side`` or the strings ``"buy"``/``"sell"``) to True for buy."""
    if side == "buy":
        return True
    if side == "sell":
        return False
    raise InvalidOrderError(f"side: unknown side {side!r}; expected 'buy' or 'sell'")


def _check_qty(qty: object, what: str = "qty") -> int:
    """Return ``qty`` as an int if it is a positive integer, else raise."""
    if type(qty) is not int:
        # numpy integers are fine; bools, floats (even integral ones) and NaN are not
        if isinstance(qty, bool) or not isinstance(qty, SupportsIndex):
            raise InvalidOrderError(
                f"{what}: must be a positive integer number of lots, got {qty!r}"
            )
        qty = int(qty.__index__())
    if qty <= 0:
        raise InvalidOrderError(f"{what}: must be a positive integer number of lots, got {qty!r}")
    return qty


def _check_ticks(price_ticks: object) -> int:
    """Return ``price_ticks`` as an int if it is a positive integer, else raise."""
    if type(price_ticks) is not int:
        if isinstance(price_ticks, bool) or not isinstance(price_ticks, SupportsIndex):
            raise InvalidOrderError(f"price_ticks: must be an integer, got {price_ticks!r}")
        price_ticks = int(price_ticks.__index__())
    if price_ticks <= 0:
        raise InvalidOrderError(f"price_ticks: must be positive, got {price_ticks!r}")
    return price_ticks


class OrderBook:
    """A single-instrument limit order book.

    Internals: each side is a dict ``ticks -> _Level`` plus a sorted list of keys
    (bids as ticks, asks as negated ticks, both ascending, so the best price is the
    last element and the levels traded most sit where list edits are cheapest).
    Levels emptied by cancels are kept and skipped lazily; the top key of each side is
    always live (empty levels are dropped as soon as they surface there), and all
    empty levels are dropped at once when they outnumber the live ones
    (``_purge_empty``), so memory stays proportional to the live book.

    Args:
        tick_size: Price grid spacing; every limit price must be a multiple of it.
        self_trade_prevention: If True (default), incoming orders cancel, rather than
            trade with, resting orders of the same owner (see the module docstring).

    Raises:
        InvalidOrderError: If ``tick_size`` is not a positive finite number.
    """

    def __init__(self, tick_size: float = 0.01, *, self_trade_prevention: bool = True) -> None:
        if not (isinstance(tick_size, int | float) and math.isfinite(tick_size) and tick_size > 0):
            raise InvalidOrderError(
                f"tick_size: must be a positive finite number, got {tick_size!r}"
            )
        self.tick_size = float(tick_size)
        self.self_trade_prevention = self_trade_prevention
        # decimals enough to print every grid price exactly (0.01 -> 4, 0.25 -> 3)
        self._decimals = max(0, -math.floor(math.log10(self.tick_size)) + 2)
        self._levels_bid: dict[int, _Level] = {}
        self._levels_ask: dict[int, _Level] = {}
        self._bid_keys: list[int] = []  # bid ticks ascending -> best bid last
        self._ask_keys: list[int] = []  # negated ask ticks ascending -> best ask last
        self._orders: dict[int, list] = {}
        self._next_id = 1
        self._n_empty = 0  # empty levels still held (both sides)

    # ----- price conversion -------------------------------------------------------

    def to_ticks(self, price: float) -> int:
        """Convert a price to integer ticks.

        Raises:
            InvalidOrderError: For NaN, infinite, non-positive or off-grid prices.
        """
        try:
            if not price > 0:  # also false for NaN
                raise InvalidOrderError(f"price: must be a positive number, got {price!r}")
            ratio = price / self.tick_size
            ticks = round(ratio)
        except (TypeError, OverflowError, ValueError) as exc:
            raise InvalidOrderError(f"price: must be a finite number, got {price!r}") from exc
        if abs(ratio - ticks) > 1e-6:
            raise InvalidOrderError(
                f"price: {price!r} is not on the tick grid (tick_size {self.tick_size})"
            )
        return ticks

    def to_price(self, ticks: int) -> float:
        """Convert integer ticks to a price on the grid."""
        return round(ticks * self.tick_size, self._decimals)

    # ----- order entry ------------------------------------------------------------

    def limit(
        self, owner: Hashable, side: Side | str, price: float, qty: int, *, ioc: bool = False
    ) -> OrderResult:
        """Submit a limit order at a float price.

        Args:
            owner: Any hashable id of the submitter (used for fills and self-trade prevention).
            side: ``"buy"`` or ``"sell"``.
            price: Limit price, a positive multiple of ``tick_size``.
            qty: Positive integer number of lots.
            ioc: Immediate-or-cancel: trade what is possible now, never rest.

        Returns:
            The order's id, fills, and how much rests or was dropped.

        Raises:
            InvalidOrderError: For a bad side, price or quantity; the book is unchanged.
        """
        return self.limit_ticks(owner, side, self.to_ticks(price), qty, ioc=ioc)

    def limit_ticks(
        self, owner: Hashable, side: Side | str, price_ticks: int, qty: int, *, ioc: bool = False
    ) -> OrderResult:
        """Submit a limit order with its price in integer ticks (the fast path for agents).

        Same contract as :meth:`limit`; ``price_ticks`` must be a positive integer.
        """
        if side == "buy":
            is_buy = True
        elif side == "sell":
            is_buy = False
        else:
            is_buy = _is_buy(side)  # raises
        if type(qty) is not int or qty <= 0:
            qty = _check_qty(qty)
        if type(price_ticks) is not int or price_ticks <= 0:
            price_ticks = _check_ticks(price_ticks)
        # Fast path: most limit orders do not cross and go straight to the book. The
        # top key of each side is always a live level (see _drop_empty_top), so one
        # comparison decides whether the order crosses.
        if is_buy:
            keys = self._ask_keys
            if keys and -keys[-1] <= price_ticks:
                return self._match(owner, is_buy, price_ticks, qty, not ioc)
            levels = self._levels_bid
        else:
            keys = self._bid_keys
            if keys and keys[-1] >= price_ticks:
                return self._match(owner, is_buy, price_ticks, qty, not ioc)
            levels = self._levels_ask
        order_id = self._next_id
        self._next_id = order_id + 1
        if ioc:
            return _new_tuple(OrderResult, (order_id, _NO_FILLS, 0, qty, _NO_CANCELS))
        level = levels.get(price_ticks)
        if level is None or level.qty == 0:
            level = self._open_level(is_buy, price_ticks)
        order = [qty, order_id, owner, price_ticks, is_buy, qty, level]
        level.orders.append(order)
        level.qty += qty
        self._orders[order_id] = order
        return _new_tuple(OrderResult, (order_id, _NO_FILLS, qty, 0, _NO_CANCELS))

    def market(self, owner: Hashable, side: Side | str, qty: int) -> OrderResult:
        """Submit a market order: walk the opposite side; drop what cannot be filled.

        Raises:
            InvalidOrderError: For a bad side or quantity; the book is unchanged.
        """
        if side == "buy":
            is_buy = True
        elif side == "sell":
            is_buy = False
        else:
            is_buy = _is_buy(side)  # raises
        if type(qty) is not int or qty <= 0:
            qty = _check_qty(qty)
        return self._match(owner, is_buy, None, qty, False)

    def _match(
        self, owner: Hashable, is_buy: bool, price_ticks: int | None, qty: int, rest: bool
    ) -> OrderResult:
        """Match an incoming order against the opposite side; rest or drop the remainder."""
        order_id = self._next_id
        self._next_id = order_id + 1
        fills: list[Fill] = []
        stp: list[tuple[int, int]] = []
        remaining = qty
        if is_buy:
            keys, levels, sign = self._ask_keys, self._levels_ask, -1
        else:
            keys, levels, sign = self._bid_keys, self._levels_bid, 1
        # keys hold sign * ticks ascending, so the order may take every key >= limit_key
        limit_key = None if price_ticks is None else sign * price_ticks
        orders = self._orders
        prevent = self.self_trade_prevention
        append_fill = fills.append
        while remaining and keys:
            key = keys[-1]
            if limit_key is not None and key < limit_key:
                break
            level = levels[sign * key]
            if level.qty == 0:  # an empty level kept from a cancel
                keys.pop()
                del levels[sign * key]
                self._n_empty -= 1
                continue
            queue = level.orders
            price = level.price
            level_ticks = sign * key
            before = remaining
            self_cancelled = 0
            while queue:
                maker = queue[0]
                avail = maker[_REM]
                if avail == 0:  # lazily cancelled
                    queue.popleft()
                    level.dead -= 1
                    continue
                maker_owner = maker[_OWNER]
                if maker_owner == owner and prevent:
                    queue.popleft()
                    maker[_REM] = 0
                    self_cancelled += avail
                    del orders[maker[_OID]]
                    stp.append((maker[_OID], avail))
                    continue
                maker_id = maker[_OID]
                if avail <= remaining:
                    queue.popleft()
                    maker[_REM] = 0
                    del orders[maker_id]
                    append_fill(
                        _new_tuple(
                            Fill,
                            (price, avail, maker_id, order_id, maker_owner, owner, level_ticks),
                        )
                    )
                    remaining -= avail
                    if not remaining:
                        break
                else:
                    maker[_REM] = avail - remaining
                    append_fill(
                        _new_tuple(
                            Fill,
                            (price, remaining, maker_id, order_id, maker_owner, owner, level_ticks),
                        )
                    )
                    remaining = 0
                    break
            level.qty -= before - remaining + self_cancelled
            if level.qty == 0:
                keys.pop()
                del levels[level_ticks]
        if keys and levels[sign * keys[-1]].qty == 0:
            self._drop_empty_top(keys, levels, sign)
        if remaining and rest and price_ticks is not None:
            resting_level = (self._levels_bid if is_buy else self._levels_ask).get(price_ticks)
            if resting_level is None or resting_level.qty == 0:
                resting_level = self._open_level(is_buy, price_ticks)
            level = resting_level
            order = [remaining, order_id, owner, price_ticks, is_buy, qty, level]
            level.orders.append(order)
            level.qty += remaining
            orders[order_id] = order
            return _new_tuple(OrderResult, (order_id, fills, remaining, 0, stp))
        return _new_tuple(OrderResult, (order_id, fills, 0, remaining, stp))

    def _open_level(self, is_buy: bool, ticks: int) -> _Level:
        """Return the level at ``ticks`` ready for a first live order, creating it if needed."""
        levels = self._levels_bid if is_buy else self._levels_ask
        level = levels.get(ticks)
        if level is None:
            level = levels[ticks] = _Level(self.to_price(ticks))
            insort(self._bid_keys if is_buy else self._ask_keys, ticks if is_buy else -ticks)
        else:  # an empty level kept from a cancel comes back to life
            self._n_empty -= 1
        return level

    def _drop_empty_top(self, keys: list[int], levels: dict[int, _Level], sign: int) -> None:
        """Pop empty levels off the top of one side so that its last key is live."""
        while keys and levels[sign * keys[-1]].qty == 0:
            del levels[sign * keys.pop()]
            self._n_empty -= 1

    def _purge_empty(self) -> None:
        """Drop every empty level (called when they outnumber the live ones)."""
        for keys, levels, sign in (
            (self._bid_keys, self._levels_bid, 1),
            (self._ask_keys, self._levels_ask, -1),
        ):
            live = [k for k in keys if levels[sign * k].qty]
            for k in keys:
                if not levels[sign * k].qty:
                    del levels[sign * k]
            keys[:] = live
        self._n_empty = 0

    # ----- cancel and amend -------------------------------------------------------

    def cancel(self, order_id: int) -> int:
        """Cancel a resting order.

        Returns:
            The quantity cancelled; 0 if the order is unknown or already finished.
        """
        order = self._orders.pop(order_id, None)
        if order is None:
            return 0
        qty = order[_REM]
        order[_REM] = 0
        level = order[_LEVEL]
        level.qty -= qty
        if level.qty == 0:
            ticks = order[_TICKS]
            if order[_IS_BUY]:
                levels, keys, key, sign = self._levels_bid, self._bid_keys, ticks, 1
            else:
                levels, keys, key, sign = self._levels_ask, self._ask_keys, -ticks, -1
            level.orders.clear()
            level.dead = 0
            self._n_empty += 1
            if keys[-1] == key:
                self._drop_empty_top(keys, levels, sign)
            elif self._n_empty > 64 and 2 * self._n_empty > len(self._levels_bid) + len(
                self._levels_ask
            ):
                self._purge_empty()
        else:
            level.dead += 1
            if level.dead > 32 and 2 * level.dead > len(level.orders):
                level.orders = deque(o for o in level.orders if o[_REM])
                level.dead = 0
        return qty

    def amend(self, order_id: int, qty: int) -> int:
        """Reduce a resting order's quantity to ``qty``, keeping its time priority.

        Args:
            order_id: A resting order.
            qty: The new remaining quantity, a positive integer not above the current one.

        Returns:
            The quantity removed from the order; 0 if the order is unknown or finished.

        Raises:
            InvalidOrderError: If ``qty`` is not a positive integer or exceeds the
                remaining quantity (an increase would need a new order; to remove the
                order entirely, use :meth:`cancel`).
        """
        qty = _check_qty(qty)
        order = self._orders.get(order_id)
        if order is None:
            return 0
        if qty > order[_REM]:
            raise InvalidOrderError(
                f"qty: amend can only reduce an order ({order[_REM]} resting, {qty} asked); "
                "submit a new order to increase"
            )
        removed = order[_REM] - qty
        order[_REM] = qty
        order[_LEVEL].qty -= removed
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
        ticks = self.best_bid_ticks()
        return None if ticks is None else self._levels_bid[ticks].price

    def best_ask(self) -> float | None:
        """Lowest ask price, or None if there are no asks."""
        ticks = self.best_ask_ticks()
        return None if ticks is None else self._levels_ask[ticks].price

    def depth(self, side: Side | str, levels: int = 10) -> list[tuple[float, int]]:
        """Aggregated price levels of one side, best first, as ``(price, qty)``."""
        if _is_buy(side):
            book, keys, sign = self._levels_bid, self._bid_keys, 1
        else:
            book, keys, sign = self._levels_ask, self._ask_keys, -1
        out: list[tuple[float, int]] = []
        for key in reversed(keys):
            if len(out) >= levels:
                break
            lvl = book[sign * key]
            if lvl.qty:
                out.append((lvl.price, lvl.qty))
        return out

    def touch_qty(self, side: Side | str) -> int:
        """Quantity at the best price of one side (0 if empty)."""
        if _is_buy(side):
            ticks = self.best_bid_ticks()
            return 0 if ticks is None else self._levels_bid[ticks].qty
        ticks = self.best_ask_ticks()
        return 0 if ticks is None else self._levels_ask[ticks].qty

    def total_qty(self, side: Side | str) -> int:
        """Total resting quantity of one side."""
        book = self._levels_bid if _is_buy(side) else self._levels_ask
        return sum(level.qty for level in book.values())

    def order(self, order_id: int) -> OrderView | None:
        """A snapshot of a resting order, or None if unknown or finished."""
        o = self._orders.get(order_id)
        if o is None:
            return None
        return OrderView(
            o[_OID],
            o[_OWNER],
            Side.BUY if o[_IS_BUY] else Side.SELL,
            self.to_price(o[_TICKS]),
            o[_TICKS],
            o[_REM],
            o[_ORIG],
        )

    def remaining(self, order_id: int) -> int:
        """Quantity still resting for ``order_id``; 0 if unknown or finished (no view built)."""
        order = self._orders.get(order_id)
        return 0 if order is None else order[_REM]

    def level_orders(self, side: Side | str, price: float) -> list[OrderView]:
        """The live orders at one price level, in time priority (first = next to trade)."""
        ticks = self.to_ticks(price)
        book = self._levels_bid if _is_buy(side) else self._levels_ask
        level = book.get(ticks)
        if level is None:
            return []
        views = [self.order(o[_OID]) for o in level.orders if o[_REM]]
        return [v for v in views if v is not None]

    def owner_orders(self, owner: Hashable) -> list[OrderView]:
        """All resting orders of one owner (a linear scan: for inspection, not hot paths)."""
        views = [self.order(oid) for oid, o in self._orders.items() if o[_OWNER] == owner]
        return [v for v in views if v is not None]

    def __len__(self) -> int:
        """Number of resting orders."""
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders
