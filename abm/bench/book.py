"""Order-book benchmark: ``OrderBook`` against a plain baseline on the same operation stream.

The stream is generated up front from a seed (so generation is not timed): about 60%
limit orders near the touch (some marketable), 10% market orders and 30% cancels of
recently submitted orders, from 200 owners, around a mid that random-walks.

The baseline is what a careful engineer writes in an afternoon: a
``sortedcontainers.SortedDict`` of ``deque``s per side with lazy cancels, no input
validation, no per-level quantities (so no O(1) depth), and bare tuples for fills.
When the installed ``abm.market.orderbook`` is the C extension that mypyc builds from
``abm/market/orderbook.py``, the same source is also timed as plain Python (loaded beside
it), so one run shows both builds against the baseline.

Both books are driven through the same loop with the same arguments (sides as the
strings ``"buy"``/``"sell"``, prices in ticks), and both loops read every fill's
quantity. The baseline applies the same matching rules (including self-trade
prevention), so both books must report the same traded volume; the benchmark checks
that before it reports anything.
"""

from __future__ import annotations

import gc
import importlib.util
import sys
import time
import tracemalloc
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
from sortedcontainers import SortedDict

import abm.market.orderbook

OP_LIMIT, OP_MARKET, OP_CANCEL = 0, 1, 2


@dataclass(frozen=True, slots=True)
class OpStream:
    """Columns of a pre-generated operation stream (plain lists: cheapest to index)."""

    kind: list[int]
    owner: list[int]
    is_buy: list[bool]
    price_ticks: list[int]
    qty: list[int]
    cancel_id: list[int]

    def __len__(self) -> int:
        return len(self.kind)

    def rows(self) -> Iterator[tuple[int, int, bool, int, int, int]]:
        """The operations as ``(kind, owner, is_buy, price_ticks, qty, cancel_id)`` rows."""
        return zip(
            self.kind,
            self.owner,
            self.is_buy,
            self.price_ticks,
            self.qty,
            self.cancel_id,
            strict=True,
        )


def make_stream(n_ops: int, seed: int) -> OpStream:
    """Generate ``n_ops`` operations from ``seed`` (see the module docstring for the mix)."""
    rng = np.random.default_rng(seed)
    kind = rng.choice([OP_LIMIT, OP_MARKET, OP_CANCEL], size=n_ops, p=[0.6, 0.1, 0.3])
    is_buy = rng.random(n_ops) < 0.5
    owner = rng.integers(0, 200, size=n_ops)
    qty = rng.integers(1, 10, size=n_ops)
    mid = 10_000 + np.cumsum(rng.choice([-1, 0, 1], size=n_ops, p=[0.05, 0.9, 0.05]))
    # distance from the mid: mostly passive within a few ticks; 10% cross by up to 3 ticks
    passive = rng.geometric(0.3, size=n_ops)
    crossing = rng.random(n_ops) < 0.1
    offset = np.where(crossing, -rng.integers(0, 4, size=n_ops), passive)
    price = np.where(is_buy, mid - offset, mid + offset)
    # cancels target one of the ~50 most recently submitted orders (ids count submissions)
    back = rng.geometric(0.05, size=n_ops)
    submitted = np.cumsum(kind != OP_CANCEL)
    cancel_id = np.maximum(submitted - back + 1, 1)
    return OpStream(
        kind.tolist(),
        owner.tolist(),
        is_buy.tolist(),
        price.tolist(),
        qty.tolist(),
        cancel_id.tolist(),
    )


class BaselineBook:
    """SortedDict of deques with lazy cancels; no validation; fills as tuples."""

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.orders: dict[int, list[int]] = {}
        self.next_id = 1

    def submit(self, owner: int, side: str, price: int | None, qty: int, rest: bool) -> list:
        """Match, then rest the remainder if ``rest``; return fills as tuples."""
        is_buy = side == "buy"
        oid = self.next_id
        self.next_id += 1
        fills = []
        book = self.asks if is_buy else self.bids
        while qty and book:
            best, queue = book.peekitem(0 if is_buy else -1)
            if price is not None and (best > price if is_buy else best < price):
                break
            while qty and queue:
                maker = queue[0]
                if maker[2] == 0:
                    queue.popleft()
                    continue
                if maker[1] == owner:
                    queue.popleft()
                    maker[2] = 0
                    del self.orders[maker[0]]
                    continue
                traded = min(qty, maker[2])
                fills.append((best, traded, maker[0], oid, maker[1], owner))
                qty -= traded
                maker[2] -= traded
                if maker[2] == 0:
                    queue.popleft()
                    del self.orders[maker[0]]
            if not queue:
                del book[best]
        if qty and rest and price is not None:
            order = [oid, owner, qty]
            own_side = self.bids if is_buy else self.asks
            queue = own_side.get(price)
            if queue is None:
                queue = own_side[price] = deque()
            queue.append(order)
            self.orders[oid] = order
        return fills

    def cancel(self, oid: int) -> int:
        """Mark an order cancelled (lazily); return the quantity cancelled."""
        order = self.orders.pop(oid, None)
        if order is None:
            return 0
        qty = order[2]
        order[2] = 0
        return qty


def load_orderbook_source() -> ModuleType:
    """``abm/market/orderbook.py`` as Python source, whether or not the installed build is compiled.

    Loaded under its own module name (``abm_orderbook_source``), so it does not replace
    ``abm.market.orderbook``; its classes are distinct from the installed build's.
    """
    name = "abm_orderbook_source"
    module = sys.modules.get(name)
    if module is not None:
        return module
    path = Path(abm.market.orderbook.__file__).with_name("orderbook.py")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - the file ships with abm
        raise ImportError(f"cannot load the order book source {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # NamedTuple and enum machinery look modules up by name
    spec.loader.exec_module(module)
    return module


def replay_ours(stream: OpStream, module: ModuleType = abm.market.orderbook) -> int:
    """Replay the stream on ``OrderBook`` through its validating public API; return volume.

    ``module`` is the order book module to use (the installed build by default).
    """
    book = module.OrderBook(tick_size=0.01)
    limit, market, cancel = book.limit_ticks, book.market, book.cancel
    volume = 0
    for kind, owner, is_buy, price, qty, cid in stream.rows():
        if kind == OP_CANCEL:
            cancel(cid)
            continue
        side = "buy" if is_buy else "sell"
        res = limit(owner, side, price, qty) if kind == OP_LIMIT else market(owner, side, qty)
        for fill in res.fills:
            volume += fill.qty
    return volume


def replay_baseline(stream: OpStream) -> int:
    """Replay the stream on the baseline; return volume."""
    book = BaselineBook()
    submit, cancel = book.submit, book.cancel
    volume = 0
    for kind, owner, is_buy, price, qty, cid in stream.rows():
        if kind == OP_CANCEL:
            cancel(cid)
            continue
        side = "buy" if is_buy else "sell"
        fills = submit(owner, side, price if kind == OP_LIMIT else None, qty, True)
        for fill in fills:
            volume += fill[1]
    return volume


@dataclass(frozen=True, slots=True)
class BookBenchResult:
    """Throughput (operations per second, best of the repeats) and peak traced memory."""

    n_ops: int
    ours_ops_per_s: float
    baseline_ops_per_s: float
    ours_peak_mib: float | None
    baseline_peak_mib: float | None
    volume: int
    compiled: bool = False
    source_ops_per_s: float | None = None  # the Python source, when the build is compiled

    @property
    def ratio(self) -> float:
        """Our throughput over the baseline's, measured in the same run."""
        return self.ours_ops_per_s / self.baseline_ops_per_s

    @property
    def source_ratio(self) -> float | None:
        """The Python source's throughput over the baseline's (compiled builds only)."""
        if self.source_ops_per_s is None:
            return None
        return self.source_ops_per_s / self.baseline_ops_per_s


def _replay_source(stream: OpStream) -> int:
    return replay_ours(stream, load_orderbook_source())


def _best_time(fn: Callable[[OpStream], int], stream: OpStream) -> tuple[float, int]:
    gc.collect()
    start = time.perf_counter()
    volume = fn(stream)
    return time.perf_counter() - start, volume


def _peak_mib(fn: Callable[[OpStream], int], stream: OpStream) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        fn(stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def run_book_bench(
    n_ops: int = 1_000_000, seed: int = 7, repeats: int = 3, memory: bool = True
) -> BookBenchResult:
    """Time both books on the same stream, interleaved, keeping the best of ``repeats``.

    Raises:
        RuntimeError: If the two books disagree on traded volume (a correctness bug).
    """
    stream = make_stream(n_ops, seed)
    contenders: dict[str, Callable[[OpStream], int]] = {
        "baseline": replay_baseline,
        "ours": replay_ours,
    }
    compiled = bool(abm.market.orderbook.COMPILED)
    if compiled:
        contenders["source"] = _replay_source
    best = dict.fromkeys(contenders, float("inf"))
    volumes: set[tuple[str, int]] = set()
    for _ in range(repeats):
        for name, fn in contenders.items():
            t, v = _best_time(fn, stream)
            best[name] = min(best[name], t)
            volumes.add((name, v))
    traded = {v for _, v in volumes}
    if len(traded) != 1:
        raise RuntimeError(f"books disagree on traded volume: {sorted(volumes)}")
    ours_mem = _peak_mib(replay_ours, stream) if memory else None
    base_mem = _peak_mib(replay_baseline, stream) if memory else None
    return BookBenchResult(
        n_ops,
        n_ops / best["ours"],
        n_ops / best["baseline"],
        ours_mem,
        base_mem,
        traded.pop(),
        compiled,
        n_ops / best["source"] if compiled else None,
    )


def format_book_bench(r: BookBenchResult) -> str:
    """A short human-readable report."""

    def mem(x: float | None) -> str:
        return "n/a" if x is None else f"{x:8.1f} MiB"

    build = "compiled" if r.compiled else "Python source"
    lines = [
        f"order book benchmark: {r.n_ops:,} operations (60% limit, 10% market, 30% cancel), "
        f"traded volume {r.volume:,} lots",
        f"  abm OrderBook ({build:>13}) : {r.ours_ops_per_s:12,.0f} ops/s   "
        f"peak {mem(r.ours_peak_mib)}",
    ]
    if r.source_ops_per_s is not None:
        lines.append(f"  abm OrderBook (Python source) : {r.source_ops_per_s:12,.0f} ops/s")
    lines += [
        f"  baseline SortedDict+deque     : {r.baseline_ops_per_s:12,.0f} ops/s   "
        f"peak {mem(r.baseline_peak_mib)}",
        f"  ratio (ours / baseline)       : {r.ratio:.2f}x",
    ]
    if r.source_ratio is not None:
        lines.append(f"  ratio (Python source / base.) : {r.source_ratio:.2f}x")
    if not r.compiled:
        lines.append(
            "  (the installed order book is not compiled; see the README on the mypyc build)"
        )
    return "\n".join(lines)
