"""Order book: every public method refuses bad arguments, and no error leaves the book broken.

Issue 16, class 12: ``cancel(True)`` and ``cancel(1.0)`` cancelled order 1 (both hash like
1), ``depth(levels=2.5)`` and ``cancel([1])`` raised a plain TypeError, and an owner whose
``__eq__`` re-entered the book during the self-trade check left it inconsistent. The contract
checked here is the module docstring of `abm.market.orderbook`: a wrong type raises
`InvalidOrderTypeError` (an `InvalidOrderError` and a ``TypeError``), a bad value
`InvalidOrderError` (an `AbmError` and a ``ValueError``), each naming the argument, before
the book changes; owners are compared by identity or as exact ints or strs, never through
their own ``__eq__``. The property test reruns the naive-reference state machine of
test_orderbook.py with hostile owners and bad calls mixed into the stream.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import rule
from test_orderbook import BookMachine  # tests/ is on sys.path under pytest

from abm.errors import AbmError
from abm.market.orderbook import (
    MAX_PRICE_TICKS,
    MAX_QTY,
    InvalidOrderError,
    InvalidOrderTypeError,
    OrderBook,
)

NAN = float("nan")
INF = float("inf")


def snapshot(book: OrderBook) -> tuple:
    """Everything observable about a book: both sides' levels, every order, the next id."""
    orders = sorted(tuple(view) for view in book.owner_orders("a") + book.owner_orders("b"))
    return (book.depth("buy", 1000), book.depth("sell", 1000), len(book), orders)


def two_sided_book() -> OrderBook:
    """Order 1 rests (a buy at 99), order 2 rests (a sell at 101)."""
    book = OrderBook()
    assert book.limit("a", "buy", 99.0, 4).order_id == 1
    assert book.limit("b", "sell", 101.0, 3).order_id == 2
    return book


# ----- the reproducers ---------------------------------------------------------


@pytest.mark.parametrize("order_id", [True, 1.0, np.float64(1.0), [1], "1", None])
def test_orderbook_cancel_refuses_a_non_integer_id(order_id: object) -> None:
    """cancel(True) / cancel(1.0) no longer cancel order 1; cancel([1]) is ours, not TypeError."""
    book = two_sided_book()
    before = snapshot(book)
    with pytest.raises(InvalidOrderTypeError, match=r"^order_id: must be an integer") as info:
        book.cancel(order_id)
    assert isinstance(info.value, AbmError) and isinstance(info.value, TypeError)
    assert snapshot(book) == before


def test_orderbook_depth_refuses_a_fractional_level_count() -> None:
    """depth(levels=2.5) raises the book's own error naming ``levels``."""
    book = two_sided_book()
    with pytest.raises(InvalidOrderTypeError, match=r"^levels: must be a non-negative integer"):
        book.depth("buy", levels=2.5)


class ReentrantOwner:
    """An owner whose ``__eq__`` and ``__hash__`` use the book: any call to them is a bug."""

    def __init__(self, book: OrderBook, name: str) -> None:
        self.book = book
        self.name = name

    def __eq__(self, other: object) -> bool:
        self.book.depth("sell")
        self.book.cancel(1)
        raise AssertionError(f"the book called {self.name}.__eq__")

    def __hash__(self) -> int:
        raise AssertionError(f"the book hashed {self.name}")

    def __repr__(self) -> str:
        return self.name


def test_orderbook_self_trade_check_never_calls_owner_eq() -> None:
    """An owner's own __eq__ is never run while matching; the book stays consistent."""
    book = OrderBook()
    maker = ReentrantOwner(book, "maker")
    book.limit(maker, "sell", 100.0, 1)
    book.limit(maker, "sell", 100.0, 2)
    result = book.market(ReentrantOwner(book, "taker"), "buy", 3)
    assert [f.qty for f in result.fills] == [1, 2]
    assert book.depth("sell") == [] and len(book) == 0


def test_orderbook_self_trade_prevention_matches_the_same_object_owner() -> None:
    """An owner object that is not an int or str is itself: its resting orders are cancelled."""
    book = OrderBook()
    owner = ReentrantOwner(book, "mm")
    resting = book.limit(owner, "sell", 100.0, 2).order_id
    result = book.market(owner, "buy", 2)
    assert list(result.self_trade_cancels) == [(resting, 2)] and not result.fills
    assert book.owner_orders(owner) == []


def test_orderbook_equal_ints_and_strs_are_one_owner() -> None:
    """1000 and int("1000"), "ax" and "a" + "x" are distinct objects but one owner each."""
    book = OrderBook()
    for maker, taker in ((1000, int("1000")), ("ax", "".join(["a", "x"]))):
        assert maker is not taker
        resting = book.limit(maker, "sell", 100.0, 1).order_id
        assert [v.order_id for v in book.owner_orders(taker)] == [resting]
        result = book.market(taker, "buy", 1)
        assert list(result.self_trade_cancels) == [(resting, 1)]


def test_orderbook_equal_owners_of_other_types_are_distinct() -> None:
    """Equal owners that are not exact ints or strs (1000 vs np.int64(1000)) may trade."""
    book = OrderBook()
    book.limit(1000, "sell", 100.0, 1)
    assert book.market(np.int64(1000), "buy", 1).filled_qty == 1


# ----- every public method, every kind of bad argument ------------------------------


# (method, arguments, the argument the message names, a wrong type rather than a bad value)
BAD_CALLS = [
    *(
        ("limit", ("x", "buy", 99.0, q), "qty", t)
        for q, t in [
            (0, False),
            (-2, False),
            (MAX_QTY + 1, False),
            (10**30, False),
            (1.0, True),
            (1.5, True),
            (NAN, True),
            (INF, True),
            (True, True),
            (False, True),
            ("1", True),
            (None, True),
            ([1], True),
            (np.float64(2.0), True),
            (np.True_, True),
        ]
    ),
    *(
        ("limit", ("x", "buy", p, 1), "price", t)
        for p, t in [
            (0.0, False),
            (-1.0, False),
            (NAN, False),
            (INF, False),
            (-INF, False),
            (10**400, False),
            (1e300, False),
            (99.005, False),
            (1e-9, False),
            ("99", True),
            (b"99", True),
            (None, True),
            (True, True),
            ([99.0], True),
        ]
    ),
    *(
        ("limit", ("x", s, 99.0, 1), "side", t)
        for s, t in [
            ("hold", False),
            ("BUY", False),
            ("", False),
            (None, True),
            (1, True),
            (True, True),
            (b"buy", True),
            (["buy"], True),
        ]
    ),
    ("limit", ("x", "buy", 99.0, 1), "ioc", True),  # called with ioc=1
    *(
        ("limit_ticks", ("x", "sell", k, 1), "price_ticks", t)
        for k, t in [
            (0, False),
            (-5, False),
            (MAX_PRICE_TICKS + 1, False),
            (9_900.0, True),
            (True, True),
            ("9900", True),
            (None, True),
            (np.float64(9_900), True),
        ]
    ),
    *(
        ("market", ("x", "buy", q), "qty", t)
        for q, t in [
            (0, False),
            (-1, False),
            (2.0, True),
            (True, True),
            (None, True),
        ]
    ),
    *(("market", ("x", s, 1), "side", t) for s, t in [("sell ", False), (0, True)]),
    *(
        (m, (i,), "order_id", True)
        for m in ("cancel", "order", "remaining")
        for i in [
            True,
            False,
            1.0,
            NAN,
            "1",
            None,
            [1],
            (1,),
            np.float32(1),
        ]
    ),
    *(("amend", (i, 1), "order_id", True) for i in [True, 1.0, "1", None]),
    *(
        ("amend", (1, q), "qty", t)
        for q, t in [
            (0, False),
            (-1, False),
            (5, False),
            (1.0, True),
            (True, True),
            (None, True),
        ]
    ),
    *(
        ("depth", ("buy", n), "levels", t)
        for n, t in [
            (-1, False),
            (2.5, True),
            (True, True),
            ("3", True),
            (None, True),
        ]
    ),
    *(
        (m, (s,), "side", t)
        for m in ("depth", "touch_qty", "total_qty")
        for s, t in [
            ("bid", False),
            (None, True),
            (1, True),
        ]
    ),
    *(("to_ticks", (p,), "price", t) for p, t in [(NAN, False), (-3.0, False), ("1", True)]),
    *(
        ("to_price", (k,), "ticks", t)
        for k, t in [
            (1.5, True),
            (True, True),
            ("1", True),
            (2**60, False),
            (-(2**60), False),
        ]
    ),
    *(("level_orders", ("buy", p), "price", t) for p, t in [(NAN, False), (None, True)]),
    *(("level_orders", (s, 99.0), "side", t) for s, t in [("up", False), (None, True)]),
]
# the ioc flag: every value but True and False (1, 0, "yes", None, np.True_)
IOC_BAD = [1, 0, "yes", None, np.True_]


def _call_id(case: tuple) -> str:
    method, args, name, _ = case
    return f"{method}-{name}-{args!r}"[:60]


@pytest.mark.parametrize("case", BAD_CALLS, ids=[_call_id(c) for c in BAD_CALLS])
def test_orderbook_public_method_refuses_bad_argument_and_changes_nothing(case: tuple) -> None:
    """A bad argument raises InvalidOrderError naming it (the TypeError kind for a type)."""
    method, args, name, wrong_type = case
    book = two_sided_book()
    before = snapshot(book)
    kwargs = {"ioc": IOC_BAD[0]} if name == "ioc" else {}
    expected = InvalidOrderTypeError if wrong_type else InvalidOrderError
    with pytest.raises(expected, match=rf"^{name}: ") as info:
        getattr(book, method)(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and len(message) < 200
    assert wrong_type == isinstance(info.value, TypeError)
    assert snapshot(book) == before


@pytest.mark.parametrize("ioc", IOC_BAD)
def test_orderbook_ioc_must_be_a_bool(ioc: object) -> None:
    """ioc="yes" or 1 is refused rather than read by truthiness (same in both builds)."""
    book = two_sided_book()
    before = snapshot(book)
    for call in (
        lambda: book.limit("x", "sell", 99.0, 1, ioc=ioc),
        lambda: book.limit_ticks("x", "sell", 9_900, 1, ioc=ioc),
    ):
        with pytest.raises(InvalidOrderTypeError, match=r"^ioc: must be True or False"):
            call()
    assert snapshot(book) == before


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"tick_size": True}, "tick_size"),
        ({"tick_size": "0.01"}, "tick_size"),
        ({"tick_size": NAN}, "tick_size"),
        ({"tick_size": -0.01}, "tick_size"),
        ({"self_trade_prevention": "no"}, "self_trade_prevention"),
        ({"self_trade_prevention": 0}, "self_trade_prevention"),
    ],
)
def test_orderbook_constructor_refuses_bad_arguments(kwargs: dict, name: str) -> None:
    """tick_size=True is not a tick of 1.0, and self_trade_prevention="no" is not True."""
    with pytest.raises(InvalidOrderError, match=rf"^{name}: "):
        OrderBook(**kwargs)


def test_orderbook_membership_is_false_for_non_integer_ids() -> None:
    """``1.0 in book`` and ``True in book`` are False though order 1 rests; numpy ids work."""
    book = two_sided_book()
    assert 1 in book and np.int64(1) in book
    assert 1.0 not in book and True not in book and [1] not in book and "1" not in book


def test_orderbook_accepts_the_largest_documented_sizes() -> None:
    """MAX_QTY lots at MAX_PRICE_TICKS rest and trade; the price is exact as a float."""
    book = OrderBook(tick_size=1.0)
    book.limit_ticks("a", "sell", MAX_PRICE_TICKS, MAX_QTY)
    assert book.best_ask() == float(MAX_PRICE_TICKS)
    assert book.market("b", "buy", MAX_QTY).filled_qty == MAX_QTY


def test_orderbook_error_message_is_bounded_for_a_huge_argument() -> None:
    """A huge bad argument is shown cut short, so the message stays one short line."""
    with pytest.raises(InvalidOrderTypeError) as info:
        OrderBook().cancel(list(range(100_000)))
    assert len(str(info.value)) < 120


# ----- the property test: hostile owners and bad calls among valid operations ---------


# every call but amend(1, 5), which is an error only while order 1 rests with under 5 lots
STATELESS_BAD_CALLS = [case for case in BAD_CALLS if case[:2] != ("amend", (1, 5))]


class HostileBookMachine(BookMachine):
    """test_orderbook.py's reference machine, plus re-entrant owners and bad calls.

    After every operation, valid or refused, the invariants of `BookMachine` compare the
    book with the naive reference (levels, FIFO queues, conservation, never crossed), so a
    refused call that changed anything, or a hostile owner that broke matching, fails.
    """

    def __init__(self) -> None:
        super().__init__()
        self.hostile = [ReentrantOwner(self.book, f"hostile{i}") for i in range(2)]

    @rule(
        pick=st.integers(0, 1),
        is_buy=st.booleans(),
        ticks=st.integers(min_value=95, max_value=105),
        qty=st.integers(min_value=1, max_value=6),
        kind=st.sampled_from(["limit", "ioc", "market"]),
    )
    def hostile_order(self, pick: int, is_buy: bool, ticks: int, qty: int, kind: str) -> None:
        self._apply(self.hostile[pick], is_buy, ticks, qty, kind)

    @rule(case=st.sampled_from(STATELESS_BAD_CALLS))
    def bad_call(self, case: tuple) -> None:
        method, args, name, _ = case
        kwargs = {"ioc": IOC_BAD[0]} if name == "ioc" else {}
        # the error class of the book's own module (test_orderbook_backends.py reruns
        # this machine on the pure source, whose classes are its own)
        error = sys.modules[type(self.book).__module__].InvalidOrderError
        with pytest.raises(error, match=rf"^{name}: "):
            getattr(self.book, method)(*args, **kwargs)


TestHostileBookMachine = HostileBookMachine.TestCase
TestHostileBookMachine.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
