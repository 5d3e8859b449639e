"""The compiled order book against its own Python source.

``abm/market/orderbook.py`` is compiled with mypyc at install time when a C compiler is
available (see the README); the compiled build and the source must behave
identically, bit for bit. Reference here: the pure-Python source, loaded as a
separate module, driven with the same operations as the installed build. When the
installed build is the pure source itself, the comparisons are trivially true and
the tests that need a compiled build are skipped.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import settings
from test_orderbook import BookMachine  # tests/ is on sys.path under pytest
from test_orderbook_input import BAD_CALLS as EVERY_BAD_CALL
from test_orderbook_input import IOC_BAD, HostileBookMachine

import abm
import abm.market.book_venue
import abm.market.orderbook
from abm.bench.book import OP_CANCEL, OP_LIMIT, load_orderbook_source, make_stream

BASELINE = Path(__file__).resolve().parents[2] / "scenarios" / "baseline.yaml"

source = load_orderbook_source()
needs_compiled = pytest.mark.skipif(
    not abm.market.orderbook.COMPILED, reason="the installed order book is the pure-Python source"
)


def test_orderbook_compiled_flag_matches_loaded_file():
    """COMPILED says whether the installed module is an extension module or the source."""
    assert (not abm.market.orderbook.__file__.endswith(".py")) == abm.market.orderbook.COMPILED
    assert source.COMPILED is False


def _replay(module: ModuleType, n_ops: int, seed: int) -> list[tuple]:
    stream = make_stream(n_ops, seed)
    book = module.OrderBook(tick_size=0.01)
    out: list[tuple] = []
    for kind, owner, is_buy, price, qty, cid in stream.rows():
        side = "buy" if is_buy else "sell"
        if kind == OP_CANCEL:
            out.append(("cancel", book.cancel(cid)))
        elif kind == OP_LIMIT:
            out.append(tuple(book.limit_ticks(owner, side, price, qty)))
        else:
            out.append(tuple(book.market(owner, side, qty)))
    out.append(("depth", book.depth("buy", 1000), book.depth("sell", 1000), len(book)))
    return out


def test_orderbook_installed_build_matches_source_on_bench_stream():
    """Every result (fills, prices, self-trade cancels, rests) equals the source's, 50k ops."""
    ours = _replay(abm.market.orderbook, 50_000, seed=11)
    ref = _replay(source, 50_000, seed=11)
    assert len(ours) == len(ref)
    for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
        assert repr(a) == repr(b), f"operation {i} differs"


BAD_CALLS = [
    ("limit", ("a", "buy", 100.0, 0)),
    ("limit", ("a", "buy", 100.0, 1.5)),
    ("limit", ("a", "buy", 100.0, True)),
    ("limit", ("a", "buy", float("nan"), 1)),
    ("limit", ("a", "buy", "100", 1)),
    ("limit", ("a", "buy", 1e308, 1)),
    ("limit", ("a", "hold", 100.0, 1)),
    ("limit", ("a", 3, 100.0, 1)),
    ("limit_ticks", ("a", "sell", 10.5, 1)),
    ("limit_ticks", ("a", "sell", -4, 1)),
    ("limit_ticks", ("a", "sell", 100, None)),
    ("market", ("a", None, 1)),
    ("market", ("a", "buy", "2")),
]


@pytest.mark.parametrize(("method", "args"), BAD_CALLS)
def test_orderbook_installed_build_rejects_bad_input_like_source(method, args):
    """Wrong types and values raise InvalidOrderError with the source's message."""
    messages = []
    for module in (abm.market.orderbook, source):
        book = module.OrderBook()
        with pytest.raises(module.InvalidOrderError) as info:
            getattr(book, method)(*args)
        messages.append(str(info.value))
        assert len(book) == 0
    assert messages[0] == messages[1]


@pytest.mark.parametrize("case", EVERY_BAD_CALL)
def test_orderbook_installed_build_refuses_every_bad_argument_like_source(case):
    """Every bad call of test_orderbook_input.py raises the same error class and message."""
    method, args, name, _ = case
    kwargs = {"ioc": IOC_BAD[0]} if name == "ioc" else {}
    seen = []
    for module in (abm.market.orderbook, source):
        book = module.OrderBook()
        book.limit("a", "buy", 99.0, 4)
        with pytest.raises(module.InvalidOrderError) as info:
            getattr(book, method)(*args, **kwargs)
        seen.append((type(info.value).__name__, isinstance(info.value, TypeError), str(info.value)))
    assert seen[0] == seen[1]


def test_orderbook_installed_build_accepts_numpy_integers_like_source():
    """Ids, tick prices and level counts may be numpy integers in both builds."""
    views = []
    for module in (abm.market.orderbook, source):
        book = module.OrderBook()
        oid = book.limit_ticks("a", "buy", np.int64(9_900), np.int32(4)).order_id
        views.append(
            (
                book.to_price(np.int64(9_900)),
                book.depth("buy", np.int64(1)),
                tuple(book.order(np.int64(oid))),
                book.remaining(np.int64(oid)),
                book.amend(np.int64(oid), np.int64(3)),
                book.cancel(np.int64(oid)),
            )
        )
    assert views[0] == views[1]
    assert views[0][:2] == (99.0, [(99.0, 4)]) and views[0][-2:] == (1, 3)


def test_orderbook_installed_build_gives_identical_model_run(monkeypatch):
    """A seeded baseline run is bit-identical with the installed book and with the source."""
    scenario = abm.load_scenario(BASELINE)
    installed = abm.run(scenario, steps=300)
    monkeypatch.setattr(abm.market.book_venue, "OrderBook", source.OrderBook)
    from_source = abm.run(scenario, steps=300)
    for name, table in installed.tables().items():
        assert table.equals(from_source.tables()[name]), name


class SourceBookMachine(BookMachine):
    """The naive-reference state machine of test_orderbook.py, on the pure source."""

    book_class = source.OrderBook


TestSourceBookMachine = needs_compiled(SourceBookMachine.TestCase)
TestSourceBookMachine.settings = settings(max_examples=60, stateful_step_count=60, deadline=None)


class SourceHostileBookMachine(HostileBookMachine):
    """test_orderbook_input.py's machine (hostile owners, bad calls) on the pure source."""

    book_class = source.OrderBook


TestSourceHostileBookMachine = needs_compiled(SourceHostileBookMachine.TestCase)
TestSourceHostileBookMachine.settings = settings(
    max_examples=60, stateful_step_count=60, deadline=None
)
