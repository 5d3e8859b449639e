"""Order book: example tests (one behaviour each) and a stateful property test.

The property test drives ``OrderBook`` and a deliberately naive reference (a flat
list scanned linearly, written here from the matching rules) with the same random
operations and checks, after every step, that they agree and that the book's
invariants hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from abm.market.orderbook import InvalidOrderError, OrderBook, Side


def test_orderbook_limit_rests_when_not_marketable():
    """A limit order that cannot trade rests in full at its price."""
    book = OrderBook()
    res = book.limit("a", "buy", 99.5, 10)
    assert list(res.fills) == [] and res.resting_qty == 10
    assert book.best_bid() == 99.5 and book.best_ask() is None
    assert book.depth("buy", 5) == [(99.5, 10)]


def test_orderbook_price_priority():
    """A buy takes the lowest ask first."""
    book = OrderBook()
    book.limit("a", "sell", 101.0, 1)
    book.limit("b", "sell", 100.5, 1)
    res = book.market("c", "buy", 1)
    assert res.fills[0].price == 100.5 and res.fills[0].maker_owner == "b"


def test_orderbook_time_priority_within_level():
    """Orders at the same price fill first in, first out."""
    book = OrderBook()
    first = book.limit("a", "sell", 100.0, 2).order_id
    second = book.limit("b", "sell", 100.0, 2).order_id
    res = book.market("c", "buy", 3)
    assert [(f.maker_order_id, f.qty) for f in res.fills] == [(first, 2), (second, 1)]


def test_orderbook_partial_fill_rests_remainder():
    """A marketable limit order fills what it can and rests the rest at its limit."""
    book = OrderBook()
    book.limit("a", "sell", 100.0, 3)
    res = book.limit("b", "buy", 100.0, 5)
    assert res.filled_qty == 3 and res.resting_qty == 2
    assert book.best_bid() == 100.0 and book.best_ask() is None


def test_orderbook_limit_does_not_trade_through_its_price():
    """A buy limit never fills above its limit."""
    book = OrderBook()
    book.limit("a", "sell", 100.0, 1)
    book.limit("a", "sell", 100.1, 1)
    res = book.limit("b", "buy", 100.0, 2)
    assert [f.price for f in res.fills] == [100.0]
    assert res.resting_qty == 1


def test_orderbook_market_walks_book_and_drops_rest():
    """A market order walks levels; the unfilled rest is dropped, never rests."""
    book = OrderBook()
    book.limit("a", "buy", 99.0, 1)
    book.limit("a", "buy", 98.0, 1)
    res = book.market("b", "sell", 5)
    assert [f.price for f in res.fills] == [99.0, 98.0]
    assert res.unfilled_qty == 3 and res.resting_qty == 0
    assert len(book) == 0


def test_orderbook_ioc_never_rests():
    """An IOC limit trades what it can and drops the rest."""
    book = OrderBook()
    book.limit("a", "sell", 100.0, 1)
    res = book.limit("b", "buy", 100.0, 4, ioc=True)
    assert res.filled_qty == 1 and res.resting_qty == 0 and res.unfilled_qty == 3
    assert book.best_bid() is None


def test_orderbook_fill_names_maker_and_taker():
    """Each fill carries both order ids and both owners."""
    book = OrderBook()
    maker = book.limit(7, "sell", 100.0, 1).order_id
    res = book.market(8, "buy", 1)
    f = res.fills[0]
    assert (f.maker_order_id, f.taker_order_id, f.maker_owner, f.taker_owner) == (
        maker,
        res.order_id,
        7,
        8,
    )


def test_orderbook_self_trade_prevention_cancels_resting():
    """An incoming order cancels, not trades with, the same owner's resting orders."""
    book = OrderBook()
    own = book.limit("a", "sell", 100.0, 2).order_id
    other = book.limit("b", "sell", 100.0, 1).order_id
    res = book.market("a", "buy", 1)
    assert list(res.self_trade_cancels) == [(own, 2)]
    assert [(f.maker_order_id, f.qty) for f in res.fills] == [(other, 1)]
    assert book.order(own) is None


def test_orderbook_self_trade_prevention_can_be_disabled():
    """With self-trade prevention off, an owner may trade with itself."""
    book = OrderBook(self_trade_prevention=False)
    book.limit("a", "sell", 100.0, 2)
    res = book.market("a", "buy", 1)
    assert res.filled_qty == 1 and list(res.self_trade_cancels) == []


def test_orderbook_cancel_returns_quantity_and_zero_when_unknown():
    """Cancel returns the quantity removed, then 0 for a finished or unknown order."""
    book = OrderBook()
    oid = book.limit("a", "buy", 99.0, 4).order_id
    assert book.cancel(oid) == 4
    assert book.cancel(oid) == 0
    assert book.cancel(12345) == 0
    assert book.best_bid() is None


def test_orderbook_amend_keeps_time_priority():
    """Reducing an order's quantity keeps its place in the queue."""
    book = OrderBook()
    first = book.limit("a", "sell", 100.0, 5).order_id
    book.limit("b", "sell", 100.0, 5)
    assert book.amend(first, 2) == 3
    res = book.market("c", "buy", 2)
    assert res.fills[0].maker_order_id == first
    assert book.depth("sell", 1) == [(100.0, 5)]


def test_orderbook_amend_rejects_increase():
    """Amend only reduces; an increase raises and leaves the order as it was."""
    book = OrderBook()
    oid = book.limit("a", "sell", 100.0, 5).order_id
    with pytest.raises(InvalidOrderError, match="reduce"):
        book.amend(oid, 6)
    view = book.order(oid)
    assert view is not None and view.qty == 5


def test_orderbook_order_view_reports_remaining():
    """``order`` shows remaining and original quantity after a partial fill."""
    book = OrderBook()
    oid = book.limit("a", "sell", 100.0, 5).order_id
    book.market("b", "buy", 2)
    view = book.order(oid)
    assert view is not None
    assert (view.qty, view.original_qty, view.side, view.price) == (3, 5, "sell", 100.0)


def test_orderbook_side_enum_is_accepted():
    """``Side`` members work wherever the strings do."""
    book = OrderBook()
    book.limit("a", Side.SELL, 100.0, 1)
    assert book.market("b", Side.BUY, 1).filled_qty == 1
    assert Side.BUY == "buy"


def test_orderbook_prices_are_exact_on_the_grid():
    """Float prices round-trip through ticks exactly (0.01 grid, 100.01 is not 100.0100001)."""
    book = OrderBook(tick_size=0.01)
    book.limit("a", "sell", 100.01, 1)
    assert book.best_ask() == 100.01
    assert book.market("b", "buy", 1).fills[0].price == 100.01


@pytest.mark.parametrize(
    ("side", "price", "qty", "needle"),
    [
        ("buy", 100.0, 0, "qty"),
        ("buy", 100.0, -3, "qty"),
        ("buy", 100.0, 1.5, "qty"),
        ("buy", 100.0, float("nan"), "qty"),
        ("buy", 100.0, True, "qty"),
        ("buy", float("nan"), 1, "price"),
        ("buy", float("inf"), 1, "price"),
        ("buy", 0.0, 1, "price"),
        ("buy", -1.0, 1, "price"),
        ("buy", 100.005, 1, "tick grid"),
        ("hold", 100.0, 1, "side"),
    ],
)
def test_orderbook_invalid_orders_raise_and_leave_book_untouched(side, price, qty, needle):
    """Bad orders raise InvalidOrderError naming the problem; the book does not change."""
    book = OrderBook()
    book.limit("a", "sell", 100.0, 3)
    before = (book.depth("buy", 10), book.depth("sell", 10), len(book))
    with pytest.raises(InvalidOrderError, match=needle):
        book.limit("b", side, price, qty)
    assert (book.depth("buy", 10), book.depth("sell", 10), len(book)) == before


def test_orderbook_invalid_market_order_raises():
    """A market order with a bad quantity raises and does not trade."""
    book = OrderBook()
    book.limit("a", "sell", 100.0, 3)
    with pytest.raises(InvalidOrderError, match="qty"):
        book.market("b", "buy", -1)
    assert book.depth("sell", 1) == [(100.0, 3)]


def test_orderbook_numpy_integer_quantities_accepted():
    """Numpy integer quantities are valid lots."""
    book = OrderBook()
    res = book.limit("a", "buy", 99.0, np.int64(3))
    assert res.resting_qty == 3 and type(res.resting_qty) is int


def test_orderbook_many_cancels_keep_level_compact():
    """Lazy cancels are compacted: a long-lived level does not keep dead entries forever."""
    book = OrderBook()
    book.limit("keeper", "buy", 99.0, 1)
    for _ in range(1000):
        book.cancel(book.limit("x", "buy", 99.0, 1).order_id)
    level = book._levels[book.to_ticks(99.0)]
    assert len(level.orders) < 100
    assert book.depth("buy", 1) == [(99.0, 1)]


def test_orderbook_matching_cuts_consumed_queue_prefix():
    """A level traded through many times keeps a short queue (the consumed prefix is cut)."""
    book = OrderBook()
    for i in range(1000):
        book.limit(f"s{i}", "sell", 101.0, 1)
        if i >= 10:
            book.market("b", "buy", 1)
    level = book._levels[-book.to_ticks(101.0)]
    assert len(level.orders) <= 64
    assert [v.owner for v in book.level_orders("sell", 101.0)] == [
        f"s{i}" for i in range(990, 1000)
    ]
    assert book.depth("sell", 1) == [(101.0, 10)]


def test_orderbook_levels_emptied_away_from_top_are_purged():
    """Levels emptied by cancels below the touch are dropped once they dominate the book."""
    book = OrderBook()
    book.limit("keeper", "buy", 100.0, 1)
    for i in range(1, 2001):
        book.cancel(book.limit("x", "buy", 100.0 - 0.01 * i, 1).order_id)
    assert len(book._levels) <= 2 * len(book) + 64
    assert book.depth("buy", 5) == [(100.0, 1)]
    assert book.limit("y", "buy", 99.5, 2).resting_qty == 2
    assert book.depth("buy", 2) == [(100.0, 1), (99.5, 2)]


# ----- naive reference model ----------------------------------------------------------


def same_owner(a, b) -> bool:
    """The book's documented owner rule: the same object, or equal exact ints or exact strs."""
    if a is b:
        return True
    return type(a) is type(b) and type(a) in (int, str) and a == b


@dataclass
class RefOrder:
    order_id: int
    owner: object
    is_buy: bool
    ticks: int
    qty: int
    seq: int


@dataclass
class ReferenceBook:
    """Price-time priority by linear scan over a flat list; obviously correct, slow."""

    orders: list[RefOrder] = field(default_factory=list)
    seq: int = 0

    def submit(self, order_id, owner, is_buy, ticks, qty, rest):
        fills, stp = [], []
        while qty > 0:
            candidates = [
                o
                for o in self.orders
                if o.is_buy != is_buy
                and (ticks is None or (o.ticks <= ticks if is_buy else o.ticks >= ticks))
            ]
            if not candidates:
                break
            best = min(candidates, key=lambda o: ((o.ticks if is_buy else -o.ticks), o.seq))
            if same_owner(best.owner, owner):
                stp.append((best.order_id, best.qty))
                self.orders.remove(best)
                continue
            traded = min(qty, best.qty)
            fills.append((best.ticks, traded, best.order_id, order_id, best.owner, owner))
            best.qty -= traded
            qty -= traded
            if best.qty == 0:
                self.orders.remove(best)
        if qty > 0 and rest and ticks is not None:
            self.seq += 1
            self.orders.append(RefOrder(order_id, owner, is_buy, ticks, qty, self.seq))
            return fills, stp, qty, 0
        return fills, stp, 0, qty

    def cancel(self, order_id):
        for o in self.orders:
            if o.order_id == order_id:
                self.orders.remove(o)
                return o.qty
        return 0

    def amend(self, order_id, qty):
        for o in self.orders:
            if o.order_id == order_id:
                removed = o.qty - qty
                o.qty = qty
                return removed
        return 0

    def levels(self, is_buy):
        totals: dict[int, int] = {}
        for o in self.orders:
            if o.is_buy == is_buy:
                totals[o.ticks] = totals.get(o.ticks, 0) + o.qty
        return sorted(totals.items(), reverse=is_buy)


# equal but distinct strs and ints (built afresh on every draw) are one owner
OWNERS = st.one_of(
    st.sampled_from(["a", "b", "c", "d"]),
    st.sampled_from(["a", "b"]).map(lambda s: "".join([s, "x"])),
    st.integers(min_value=1000, max_value=1001).map(lambda n: int(str(n))),
)
TICKS = st.integers(min_value=95, max_value=105)
QTY = st.integers(min_value=1, max_value=6)


class BookMachine(RuleBasedStateMachine):
    """Same random operations on OrderBook and ReferenceBook; compare after each."""

    book_class: type = OrderBook  # test_orderbook_backends.py reruns this on the source

    def __init__(self):
        super().__init__()
        self.book = self.book_class(tick_size=0.5)
        self.ref = ReferenceBook()
        self.ids: list[int] = []
        self.submitted = self.filled = self.cancelled = self.dropped = 0

    def _apply(self, owner, is_buy, ticks, qty, kind):
        side = "buy" if is_buy else "sell"
        if kind == "market":
            res = self.book.market(owner, side, qty)
        else:
            res = self.book.limit(owner, side, ticks * 0.5, qty, ioc=(kind == "ioc"))
        fills, stp, resting, dropped = self.ref.submit(
            res.order_id, owner, is_buy, None if kind == "market" else ticks, qty, kind == "limit"
        )
        got = [
            (f.price_ticks, f.qty, f.maker_order_id, f.taker_order_id, f.maker_owner, f.taker_owner)
            for f in res.fills
        ]
        assert got == fills
        assert all(math.isclose(f.price, f.price_ticks * 0.5) for f in res.fills)
        assert list(res.self_trade_cancels) == stp
        assert (res.resting_qty, res.unfilled_qty) == (resting, dropped)
        self.submitted += qty
        # each lot traded consumes one submitted lot of the taker and one of the maker
        self.filled += 2 * res.filled_qty
        self.cancelled += sum(q for _, q in stp)
        self.dropped += dropped
        if resting:
            self.ids.append(res.order_id)

    @rule(owner=OWNERS, is_buy=st.booleans(), ticks=TICKS, qty=QTY)
    def limit(self, owner, is_buy, ticks, qty):
        self._apply(owner, is_buy, ticks, qty, "limit")

    @rule(owner=OWNERS, is_buy=st.booleans(), ticks=TICKS, qty=QTY)
    def ioc(self, owner, is_buy, ticks, qty):
        self._apply(owner, is_buy, ticks, qty, "ioc")

    @rule(owner=OWNERS, is_buy=st.booleans(), qty=QTY)
    def market(self, owner, is_buy, qty):
        self._apply(owner, is_buy, 0, qty, "market")

    @precondition(lambda self: self.ids)
    @rule(pick=st.integers(min_value=0, max_value=10_000))
    def cancel(self, pick):
        oid = self.ids[pick % len(self.ids)]
        got = self.book.cancel(oid)
        assert got == self.ref.cancel(oid)
        self.cancelled += got

    @precondition(lambda self: self.ids)
    @rule(pick=st.integers(min_value=0, max_value=10_000), new_qty=QTY)
    def amend(self, pick, new_qty):
        oid = self.ids[pick % len(self.ids)]
        view = self.book.order(oid)
        if view is None or new_qty > view.qty:
            return
        got = self.book.amend(oid, new_qty)
        assert got == self.ref.amend(oid, new_qty)
        self.cancelled += got

    @invariant()
    def levels_match_reference(self):
        for is_buy, side in ((True, "buy"), (False, "sell")):
            ours = [(self.book.to_ticks(p), q) for p, q in self.book.depth(side, 100)]
            assert ours == self.ref.levels(is_buy)

    @invariant()
    def never_crossed_at_rest(self):
        bid, ask = self.book.best_bid(), self.book.best_ask()
        assert bid is None or ask is None or bid < ask

    @invariant()
    def level_totals_equal_their_orders_in_fifo(self):
        for side in ("buy", "sell"):
            for price, qty in self.book.depth(side, 100):
                views = self.book.level_orders(side, price)
                assert sum(v.qty for v in views) == qty
                ref = sorted(
                    (
                        o
                        for o in self.ref.orders
                        if o.ticks * 0.5 == price and o.is_buy == (side == "buy")
                    ),
                    key=lambda o: o.seq,
                )
                assert [v.order_id for v in views] == [o.order_id for o in ref]

    @invariant()
    def side_totals_equal_the_levels_and_the_reference(self):
        # total_qty is kept as orders rest and leave; here it is recounted the slow ways
        for side in ("buy", "sell"):
            walked = sum(qty for _, qty in self.book.depth(side, 10**6))
            naive = sum(o.qty for o in self.ref.orders if o.is_buy == (side == "buy"))
            assert self.book.total_qty(side) == walked == naive

    @invariant()
    def quantity_conserved(self):
        resting = self.book.total_qty("buy") + self.book.total_qty("sell")
        assert self.submitted == self.filled + resting + self.cancelled + self.dropped


TestBookMachine = BookMachine.TestCase
TestBookMachine.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(95, 105), st.integers(1, 4)), max_size=40))
def test_still_resting_is_the_membership_filter(orders: list[tuple[bool, int, int]]) -> None:
    """still_resting(ids) is the naive filter ``[i for i in ids if i in book]``, order kept.

    Orders cross, fill and rest at random; every other one left resting is cancelled, and
    unknown ids (never issued) are mixed in.
    """
    book = OrderBook(tick_size=1.0)
    ids = [
        book.limit_ticks(1 + i % 3, "buy" if buy else "sell", price, qty).order_id
        for i, (buy, price, qty) in enumerate(orders)
    ]
    for oid in ids[::2]:
        if oid in book:
            book.cancel(oid)
    probe = [*reversed(ids), 10_000, -1, *ids]
    assert book.still_resting(probe) == [oid for oid in probe if oid in book]
