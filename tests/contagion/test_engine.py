"""ContagionEngine built from hand-made parts: each channel against a hand-worked number.

No ``MarketModel`` and no scenario file: the dealers are small `Account` objects, the book and
exchange are real (`abm.market`), prices and time come from `Prices`, and shocks from a real
`abm.shocks.ShockSchedule`. Tick 0.01, so 1.00 in price is 100 ticks.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

import abm.contagion
from abm.contagion.engine import ContagionEngine
from abm.contagion.math import default_cascade
from abm.contagion.specs import NetworkSpec
from abm.market.book_venue import BookVenue
from abm.market.exchange import Exchange
from abm.market.orderbook import OrderBook, OrderResult
from abm.results.events import EventKind, TradePurpose
from abm.results.recorder import Recorder
from abm.shocks import (
    CreditFreezeShock,
    DefaultShock,
    InventoryShock,
    LiquidityWithdrawalShock,
    LossShock,
    MarginHikeShock,
    ShockSchedule,
)
from abm.states import Status

TICK = 0.01
FUNDAMENTAL = 100.0


@dataclass
class Sigma:
    """A fixed volatility estimate."""

    sigma: float = 0.0


@dataclass(eq=False)
class Account:
    """A minimal dealer: an exact account plus the contagion state the engine reads and writes."""

    unique_id: int
    cash_ticks: int
    inventory: int = 0
    default_threshold: float | None = None
    max_inventory: int | None = None
    volatility: Sigma = field(default_factory=Sigma)
    hedge: int = 0
    claims_ticks: int = 0
    debts_ticks: int = 0
    status: Status = Status.ACTIVE
    initial_equity: float = 0.0
    margin_requirement: float = 0.0
    confidence_state: str | None = None
    withdrawn_until: int = 0
    potato_hops: int | None = None
    withdrawals: int = 0

    def equity(self, *, mark: float, hedge_mark: float) -> float:
        """Cash + claims - debts (exact ticks) + inventory at mark + hedge at hedge_mark."""
        ticks = self.cash_ticks + self.claims_ticks - self.debts_ticks
        return ticks * TICK + self.inventory * mark + self.hedge * hedge_mark

    def withdraw(self) -> None:
        """Count the calls (the account has no quotes to cancel)."""
        self.withdrawals += 1

    def order_released(self, result: OrderResult) -> None:
        """Never called: no circuit breaker halts these books."""


@dataclass
class HedgeQuote:
    """A hedge venue with a fixed price."""

    price: float = FUNDAMENTAL


class Prices:
    """The engine's view of prices and time, read from a real book.

    The mark is the mid, or the fundamental while one side is empty.
    """

    def __init__(self, book: OrderBook) -> None:
        self.book = book
        self.tick_size = TICK
        self.step_index = 0
        self.fundamental = FUNDAMENTAL
        self.hedge_venue = HedgeQuote()

    def mid_price(self) -> float | None:
        """Mid of the touch, None with a side empty."""
        bid, ask = self.book.best_bid_ticks(), self.book.best_ask_ticks()
        if bid is None or ask is None:
            return None
        return (bid + ask) * 0.5 * TICK

    def reference_price(self, kind: str) -> float:
        """The fundamental, or the mid falling back to it."""
        mid = self.mid_price()
        return self.fundamental if kind == "fundamental" or mid is None else mid

    def mark_price(self) -> float:
        """Mid, else fundamental."""
        return self.reference_price("mid")


class Events(list[tuple[Any, ...]]):
    """An event sink keeping ``(kind, agent_id, counterparty, amount, fields)`` rows."""

    def __call__(
        self,
        kind: EventKind,
        agent_id: int | None,
        counterparty: int | None,
        amount: float,
        **fields: Any,
    ) -> None:
        """Keep one row (``fields``: the event's typed fields, as a dict)."""
        self.append((kind, agent_id, counterparty, amount, fields))

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        """The rows of one kind, in order."""
        return [row for row in self if row[0] == kind]


@dataclass
class Rig:
    """An engine and the parts it was built from."""

    engine: ContagionEngine[Account]
    dealers: list[Account]
    others: list[Account]
    exchange: Exchange
    prices: Prices
    events: Events

    def run_step(self, step: int) -> None:
        """What the model does around the engine at ``step``: shocks, then risk."""
        self.prices.step_index = step
        self.exchange.start_step(step, float(step))
        self.engine.apply_shocks(step)
        self.engine.step()

    def totals(self) -> tuple[int, int]:
        """Cash ticks and lots over every account and the outside world."""
        accounts = self.dealers + self.others
        outside = self.engine.outside
        cash = sum(a.cash_ticks for a in accounts) + outside.cash_ticks
        return cash, sum(a.inventory for a in accounts) + outside.inventory


def build(
    dealers: list[Account],
    edges: Sequence[tuple[int, int, float, int]] = (),
    channels: dict[str, Any] | None = None,
    shocks: Sequence[Any] = (),
    *,
    bids: Sequence[tuple[int, int]] = (),
    asks: Sequence[tuple[int, int]] = (),
    seed: int = 0,
) -> Rig:
    """An engine over ``dealers`` with edges ``(lender, borrower, exposure, capacity)``.

    ``channels`` is the ``network.channels`` mapping (None: no network spec, defaults only);
    ``bids``/``asks`` (price ticks, lots) rest in the book for a liquidity account (id 99)
    with ample cash. Initial equity is set at the opening mark, as the model does.
    """
    book = OrderBook(tick_size=TICK)
    exchange: Exchange[Account] = Exchange(Recorder())
    exchange.attach_book(BookVenue("book", book, exchange))
    liquidity = Account(unique_id=99, cash_ticks=10**9)
    for account in [*dealers, liquidity]:
        exchange.register(account)
    for price_ticks, qty in bids:
        exchange.limit(liquidity, True, price_ticks, qty, purpose=TradePurpose.TAKER)
    for price_ticks, qty in asks:
        exchange.limit(liquidity, False, price_ticks, qty, purpose=TradePurpose.TAKER)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(dealers)))
    for lender, borrower, exposure, capacity in edges:
        graph.add_edge(lender, borrower, exposure=exposure, capacity=capacity)
    spec = None
    if channels is not None:
        spec = NetworkSpec.model_validate({"topology": {"kind": "complete"}, "channels": channels})
    prices = Prices(book)
    events = Events()
    engine = ContagionEngine(
        spec=spec,
        network=graph,
        nodes=dealers,
        exchange=exchange,
        shocks=ShockSchedule(list(shocks)),
        rng=np.random.default_rng(seed),
        log_event=events,
        market=prices,
    )
    mark = prices.mark_price()
    for account in dealers:
        account.initial_equity = account.equity(mark=mark, hedge_mark=FUNDAMENTAL)
    return Rig(engine, dealers, [liquidity], exchange, prices, events)


def dealer(uid: int, cash: float, **kwargs: Any) -> Account:
    """A dealer with ``cash`` in price units."""
    return Account(unique_id=uid, cash_ticks=round(cash / TICK), **kwargs)


# ----- balance sheets --------------------------------------------------------------------


def test_engine_funds_credit_lines_exactly() -> None:
    """Each edge i -> j moves exposure/tick ticks of cash from i to j as i's claim and j's debt."""
    dealers = [dealer(0, 100.0), dealer(1, 100.0), dealer(2, 100.0)]
    rig = build(dealers, [(0, 1, 50.0, 5), (1, 2, 20.0, 5), (0, 2, 30.0, 5)])
    # by hand: node 0 lends 50 + 30, node 1 borrows 50 and lends 20, node 2 borrows 20 + 30
    assert [d.cash_ticks for d in dealers] == [2_000, 13_000, 15_000]
    assert [d.claims_ticks for d in dealers] == [8_000, 2_000, 0]
    assert [d.debts_ticks for d in dealers] == [0, 5_000, 5_000]
    assert rig.engine.network.edges[0, 2]["claim_ticks"] == 3_000
    assert rig.totals() == (30_000 + 10**9, 0)


def test_engine_credit_lines_leave_equity_unchanged() -> None:
    """Funding a line adds the same amount to cash and to claims (or debts): equity is as before."""
    dealers = [dealer(0, 100.0), dealer(1, 40.0)]
    build(dealers, [(0, 1, 75.0, 5)])
    assert [d.equity(mark=FUNDAMENTAL, hedge_mark=FUNDAMENTAL) for d in dealers] == [100.0, 40.0]


# ----- shocks ----------------------------------------------------------------------------


def test_engine_loss_shock_moves_cash_to_outside() -> None:
    """A loss of 12.34 takes 1,234 ticks from the target and gives them to the outside world."""
    dealers = [dealer(0, 100.0), dealer(1, 100.0)]
    rig = build(dealers, shocks=[LossShock(kind="loss", step=1, targets=[1], amount=12.34)])
    before = rig.totals()
    rig.run_step(1)
    assert dealers[1].cash_ticks == 10_000 - 1_234
    assert rig.engine.outside.cash_ticks == 1_234
    assert rig.totals() == before
    assert rig.engine.stats.losses_by_channel == {"loss": 12.34}
    assert rig.events.of("loss") == [("loss", 1, None, 12.34, {})]


def test_engine_loss_shock_defaults_node_and_writes_down_creditors() -> None:
    """Node 2 (equity 100) loses 140: it defaults in wave 1, creditors lose claim * (1 - 0.25).

    By hand: 0 lent 50 and 1 lent 30 to 2; write-downs 50 * 0.75 = 37.5 and 30 * 0.75 = 22.5.
    """
    dealers = [dealer(0, 100.0), dealer(1, 100.0), dealer(2, 100.0, default_threshold=0.0)]
    rig = build(
        dealers,
        [(0, 2, 50.0, 5), (1, 2, 30.0, 5)],
        {"default": {"recovery_rate": 0.25}},
        [LossShock(kind="loss", step=1, targets=[2], amount=140.0)],
    )
    rig.run_step(1)
    assert dealers[2].status is Status.DEFAULTED
    assert dealers[2].withdrawals == 1
    assert rig.events.of("writedown") == [
        ("writedown", 0, 2, 37.5, {"wave": 1}),
        ("writedown", 1, 2, 22.5, {"wave": 1}),
    ]
    assert [d.claims_ticks for d in dealers[:2]] == [1_250, 750]
    assert rig.engine.network.edges[0, 2]["exposure"] == 12.5
    assert rig.engine.stats.defaults == 1
    assert rig.engine.stats.cascade_waves == 1
    assert rig.engine.stats.losses_by_channel["default"] == 60.0


def test_engine_default_waves_match_fictitious_default_cascade() -> None:
    """Chain 0 -> 1 -> 2 -> 3, node 3 defaulted: the waves are those of `default_cascade`.

    Gai & Kapadia (2010) as `abm.contagion.math.default_cascade` computes it, with capital =
    each node's equity and threshold 0: by hand 2 loses 80 * 0.5 = 40 >= 40 (wave 1), 1 loses
    60 * 0.5 = 30 >= 30 (wave 2), 0 loses 50 * 0.5 = 25 < 100 and survives.
    """
    capital = [100.0, 30.0, 40.0, 10.0]
    edges = [(0, 1, 50.0, 5), (1, 2, 60.0, 5), (2, 3, 80.0, 5)]
    dealers = [dealer(i, c, default_threshold=0.0) for i, c in enumerate(capital)]
    rig = build(
        dealers,
        edges,
        {"default": {"recovery_rate": 0.5}},
        [DefaultShock(kind="default", step=1, targets=[3])],
    )
    rig.run_step(1)
    graph = nx.DiGraph()
    graph.add_nodes_from((i, {"capital": c}) for i, c in enumerate(capital))
    graph.add_edges_from((i, j, {"exposure": x}) for i, j, x, _ in edges)
    expected = default_cascade(graph, [3], recovery_rate=0.5)
    waves = {row[1]: row[4]["wave"] for row in rig.events.of("default")}
    assert waves == {node: w for w, nodes in enumerate(expected.waves) for node in nodes}
    assert [d.status is Status.DEFAULTED for d in dealers] == [False, True, True, True]
    losses = {row[1]: row[3] for row in rig.events.of("writedown")}
    assert losses == {i: pytest.approx(x) for i, x in expected.losses.items() if x}
    assert rig.engine.stats.cascade_waves == 2


def test_engine_inventory_shock_trades_with_outside_at_mid() -> None:
    """A +7 lot block at a 99.98 / 100.02 book costs 7 * 10,000 ticks, paid to the outside."""
    dealers = [dealer(0, 1_000.0, potato_hops=3)]
    rig = build(
        dealers,
        shocks=[InventoryShock(kind="inventory", step=1, targets=[0], qty=7)],
        bids=[(9_998, 5)],
        asks=[(10_002, 5)],
    )
    rig.run_step(1)
    assert (dealers[0].inventory, dealers[0].cash_ticks) == (7, 100_000 - 70_000)
    assert (rig.engine.outside.inventory, rig.engine.outside.cash_ticks) == (-7, 70_000)
    assert dealers[0].potato_hops == 0
    assert rig.events.of("inventory_shock") == [
        ("inventory_shock", 0, None, 7.0, {"notional": 700.0})
    ]


def test_engine_credit_freeze_scales_capacity() -> None:
    """A freeze of factor 0.5 turns capacities 7 and 10 into int(3.5) = 3 and 5."""
    dealers = [dealer(0, 100.0), dealer(1, 100.0)]
    rig = build(
        dealers,
        [(0, 1, 10.0, 7), (1, 0, 10.0, 10)],
        {},
        [CreditFreezeShock(kind="credit_freeze", step=2, factor=0.5)],
    )
    rig.run_step(1)
    assert rig.engine.network.edges[0, 1]["capacity"] == 7
    rig.run_step(2)
    assert [rig.engine.network.edges[e]["capacity"] for e in [(0, 1), (1, 0)]] == [3, 5]


def test_engine_withdrawal_draws_dealers_from_its_generator() -> None:
    """Half of 4 dealers withdraw for 5 steps; which ones is the generator's choice(4, 2)."""
    dealers = [dealer(i, 100.0) for i in range(4)]
    shock = LiquidityWithdrawalShock(
        kind="liquidity_withdrawal", step=3, duration_steps=5, fraction=0.5
    )
    rig = build(dealers, shocks=[shock], seed=11)
    rig.run_step(3)
    chosen = sorted(int(c) for c in np.random.default_rng(11).choice(4, size=2, replace=False))
    assert [i for i, d in enumerate(dealers) if d.withdrawn_until == 8] == chosen
    assert [row[1] for row in rig.events.of("withdrawal")] == chosen


# ----- forced sales and liquidation -----------------------------------------------------


def test_engine_liquidation_slices_over_schedule() -> None:
    """10 lots over 4 steps sell in slices ceil(10/4)=3, ceil(7/3)=3, ceil(4/2)=2, ceil(2/1)=2."""
    dealers = [dealer(0, 100.0, inventory=10)]
    rig = build(
        dealers,
        [],
        {"default": {"liquidation_steps": 4}},
        [DefaultShock(kind="default", step=1, targets=[0])],
    )
    for step in range(1, 7):
        rig.run_step(step)
    assert [row[3] for row in rig.events.of("liquidation")] == [-3.0, -3.0, -2.0, -2.0]
    assert dealers[0].inventory == 0
    # fire sale off: the outside world buys at the fundamental, 10,000 ticks a lot
    assert rig.engine.outside.cash_ticks == -10 * 10_000
    assert rig.engine.stats.forced_sale_volume == 10


def test_engine_fire_sale_walks_the_book() -> None:
    """Fire sale on: 8 lots into bids 5 @ 99.00 and 5 @ 98.00 fill 5 + 3, notional 789.0."""
    dealers = [dealer(0, 100.0, inventory=8)]
    rig = build(
        dealers,
        [],
        {"default": {"liquidation_steps": 1}, "fire_sale": {}},
        [DefaultShock(kind="default", step=1, targets=[0])],
        bids=[(9_900, 5), (9_800, 5)],
        asks=[(10_100, 5)],
    )
    rig.run_step(1)
    assert rig.events.of("liquidation") == [
        ("liquidation", 0, None, -8.0, {"notional": 789.0, "mid": 100.0, "venue": "book"})
    ]
    assert (dealers[0].inventory, dealers[0].cash_ticks) == (0, 10_000 + 78_900)
    assert rig.others[0].inventory == 8
    assert rig.engine.outside.inventory == 0


def test_engine_forced_sale_off_book_rounds_against_seller() -> None:
    """Off the book at fundamental 100.005: a sale gets floor (10,000), a purchase ceil (10,001)."""
    dealers = [dealer(0, 100.0)]
    rig = build(dealers)
    rig.prices.fundamental = 100.005
    assert rig.engine.forced_sale(dealers[0], -2, "margin_call") == 2
    assert rig.engine.forced_sale(dealers[0], 3, "margin_call") == 3
    assert dealers[0].cash_ticks == 10_000 + 2 * 10_000 - 3 * 10_001
    assert dealers[0].inventory == 1


def test_engine_margin_call_sells_pace_share() -> None:
    """Requirement 0.5 * 40 * 100 = 2,000 above equity 1,500: cut ceil(0.25 * 40) = 10 lots."""
    dealers = [dealer(0, -2_500.0, inventory=40)]
    rig = build(dealers, [], {"margin": {"base_rate": 0.5, "pace": 0.25}})
    rig.run_step(1)
    assert rig.events.of("margin_call")[0][3] == -10.0
    assert dealers[0].inventory == 30
    assert dealers[0].margin_requirement == 2_000.0


def test_engine_margin_hike_scales_requirement() -> None:
    """Equity 3,000 meets 0.5 * 40 * 100 = 2,000, not 2 x that during a margin hike."""
    dealers = [dealer(0, -1_000.0, inventory=40)]
    hike = MarginHikeShock(kind="margin_hike", step=2, duration_steps=1, multiplier=2.0)
    rig = build(dealers, [], {"margin": {"base_rate": 0.5, "pace": 0.25}}, [hike])
    rig.run_step(1)
    assert (rig.events.of("margin_call"), dealers[0].margin_requirement) == ([], 2_000.0)
    rig.run_step(2)
    assert dealers[0].margin_requirement == 4_000.0  # 2 * 0.5 * 40 * 100, set before the cut
    assert [row[3] for row in rig.events.of("margin_call")] == [-10.0]


# ----- credit lines ------------------------------------------------------------------------


def test_engine_credit_call_repays_share_of_line_once() -> None:
    """Borrower equity 50 -> 10 (distress 0.8 > 0.5): the lender calls 0.5 * 100 = 50, once."""
    dealers = [dealer(0, 200.0), dealer(1, 50.0)]
    rig = build(
        dealers,
        [(0, 1, 100.0, 5)],
        {"credit_lines": {"distress_threshold": 0.5, "call_fraction": 0.5}},
        [LossShock(kind="loss", step=1, targets=[1], amount=40.0)],
    )
    before = rig.totals()
    rig.run_step(1)
    rig.run_step(2)
    assert rig.events.of("credit_call") == [("credit_call", 0, 1, 50.0, {})]
    assert (dealers[1].cash_ticks, dealers[1].debts_ticks) == (15_000 - 4_000 - 5_000, 5_000)
    assert (dealers[0].cash_ticks, dealers[0].claims_ticks) == (10_000 + 5_000, 5_000)
    assert rig.engine.network.edges[0, 1]["exposure"] == 50.0
    assert rig.totals() == before


def test_engine_credit_call_limited_by_cash() -> None:
    """A call of 50 on a borrower holding 6 in cash is paid 6; the rest stays owed."""
    dealers = [dealer(0, 200.0), dealer(1, -94.0, inventory=1)]
    rig = build(
        dealers,
        [(0, 1, 100.0, 5)],
        {"credit_lines": {"distress_threshold": 0.5, "call_fraction": 0.5}},
        [LossShock(kind="loss", step=1, targets=[1], amount=0.5)],
    )
    # cash -94 + 100 borrowed = 6 before the loss, 5.5 after; distress from 100 is 0.945
    dealers[1].initial_equity = 100.0
    rig.run_step(1)
    assert rig.events.of("credit_call") == [("credit_call", 0, 1, 5.5, {})]
    assert (dealers[1].cash_ticks, dealers[1].debts_ticks) == (0, 10_000 - 550)
    assert (dealers[0].cash_ticks, dealers[0].claims_ticks) == (10_000 + 550, 10_000 - 550)


# ----- hot potato and confidence -------------------------------------------------------------


def test_engine_hot_potato_passes_along_capacity_and_room() -> None:
    """Node 0, 30 lots over a trigger of 10, passes min(20, 4, 8) = 4, then min(16, 10, 15) = 10.

    Triggers are 0.5 * max_inventory 20 = 10; capacity is the larger of the two directions';
    the price is the mid 100.00 less one tick, 9,999 ticks.
    """
    dealers = [
        dealer(0, 100.0, inventory=30, max_inventory=20),
        dealer(1, 100.0, inventory=2, max_inventory=20),
        dealer(2, 100.0, inventory=-5, max_inventory=20),
    ]
    rig = build(
        dealers,
        [(0, 1, 10.0, 4), (2, 0, 10.0, 10)],
        {"hot_potato": {"trigger": 0.5, "concession_ticks": 1}},
        bids=[(9_900, 5)],
        asks=[(10_100, 5)],
    )
    cash = [d.cash_ticks for d in dealers]
    rig.run_step(1)
    assert rig.events.of("hot_potato") == [
        ("hot_potato", 0, 1, -4.0, {"hop": 1}),
        ("hot_potato", 0, 2, -10.0, {"hop": 1}),
    ]
    assert [d.inventory for d in dealers] == [16, 6, 5]
    assert [d.cash_ticks - c for d, c in zip(dealers, cash, strict=True)] == [
        14 * 9_999,
        -4 * 9_999,
        -10 * 9_999,
    ]
    assert [d.potato_hops for d in dealers] == [None, 1, 1]


def test_engine_hot_potato_short_passer_buys_above_mid() -> None:
    """Node 0, short 15 over a trigger of 10, buys min(5, capacity 4, room 10) = 4 at 10,001 ticks.

    The concession favours the receiver, who sells at the mid 100.00 plus one tick.
    """
    dealers = [
        dealer(0, 100.0, inventory=-15, max_inventory=20),
        dealer(1, 100.0, max_inventory=20),
    ]
    rig = build(
        dealers,
        [(1, 0, 10.0, 4)],
        {"hot_potato": {"trigger": 0.5, "concession_ticks": 1}},
        bids=[(9_900, 5)],
        asks=[(10_100, 5)],
    )
    cash = [d.cash_ticks for d in dealers]
    rig.run_step(1)
    assert rig.events.of("hot_potato") == [("hot_potato", 0, 1, 4.0, {"hop": 1})]
    assert [d.inventory for d in dealers] == [-11, -4]
    assert [d.cash_ticks - c for d, c in zip(dealers, cash, strict=True)] == [-40_004, 40_004]


def test_engine_confidence_stresses_neighbours_of_distressed() -> None:
    """Node 1 loses 40 of 100 (distress 0.4 >= 0.3): node 0 (1 of 2 neighbours hit) is stressed."""
    dealers = [dealer(i, 100.0) for i in range(3)]
    rig = build(
        dealers,
        [(0, 1, 0.0, 5), (0, 2, 0.0, 5)],
        {
            "confidence": {
                "distress_threshold": 0.3,
                "stress_share": 0.25,
                "withdraw_share": 0.6,
            }
        },
        [LossShock(kind="loss", step=1, targets=[1], amount=40.0)],
    )
    rig.run_step(1)
    assert [d.confidence_state for d in dealers] == ["stressed", None, None]
    assert rig.events.of("confidence") == [
        (
            "confidence",
            0,
            None,
            0.5,
            {"confidence_from": "normal", "confidence_to": "stressed"},
        )
    ]


def test_engine_confidence_withdraws_at_withdraw_share() -> None:
    """Both of node 0's neighbours defaulted (distress 1): share 1.0 >= 0.5, it withdraws."""
    dealers = [dealer(i, 100.0) for i in range(3)]
    rig = build(
        dealers,
        [(0, 1, 0.0, 5), (0, 2, 0.0, 5)],
        {"confidence": {}},
        [DefaultShock(kind="default", step=1, targets=[1, 2])],
    )
    rig.run_step(1)
    assert dealers[0].confidence_state == "withdraw"


# ----- invariants ----------------------------------------------------------------------------


def random_crisis(seed: int) -> Rig:
    """Five dealers on a random graph, every channel on, random shocks and a random book."""
    rng = np.random.default_rng(seed)
    n = 5
    dealers = [
        dealer(
            i,
            float(rng.integers(1_000, 5_000)),
            inventory=int(rng.integers(-40, 40)),
            max_inventory=30,
            default_threshold=float(rng.integers(0, 500)),
            volatility=Sigma(0.5),
        )
        for i in range(n)
    ]
    edges = [
        (i, j, float(rng.integers(50, 1_000)), int(rng.integers(1, 10)))
        for i in range(n)
        for j in range(n)
        if i != j and rng.random() < 0.5
    ]
    shocks: list[Any] = [
        LossShock(
            kind="loss",
            step=int(rng.integers(1, 20)),
            targets=[i],
            amount=float(rng.integers(100, 3_000)),
        )
        for i in range(n)
    ]
    shocks += [
        InventoryShock(kind="inventory", step=3, targets=[0, 1], qty=25),
        DefaultShock(kind="default", step=6, targets=[2]),
        CreditFreezeShock(kind="credit_freeze", step=8, factor=0.5),
        MarginHikeShock(kind="margin_hike", step=4, duration_steps=5, multiplier=3.0),
        LiquidityWithdrawalShock(
            kind="liquidity_withdrawal", step=5, duration_steps=3, fraction=0.4
        ),
    ]
    channels = {
        "default": {"recovery_rate": 0.4, "liquidation_steps": 3},
        "fire_sale": {},
        "margin": {"base_rate": 0.2, "vol_linked": True, "vol_coefficient": 0.1},
        "credit_lines": {"distress_threshold": 0.3},
        "hot_potato": {},
        "confidence": {},
    }
    bids = [(10_000 - k * 10, int(rng.integers(1, 8))) for k in range(1, 30)]
    asks = [(10_000 + k * 10, int(rng.integers(1, 8))) for k in range(1, 30)]
    return build(dealers, edges, channels, shocks, bids=bids, asks=asks, seed=seed)


def test_engine_conserves_cash_and_inventory_every_step() -> None:
    """Every channel on, random shocks and book: traders + outside keep their cash and lots."""
    rig = random_crisis(seed=0)
    start = rig.totals()
    for step in range(1, 25):
        rig.run_step(step)
        assert rig.totals() == start, f"step {step}"
    # the case exercises every channel, so conservation is checked through each of them
    assert {row[0] for row in rig.events} == {
        "loss",
        "inventory_shock",
        "default",
        "writedown",
        "liquidation",
        "margin_call",
        "credit_call",
        "hot_potato",
        "confidence",
        "credit_freeze",
        "withdrawal",
    }


def test_contagion_modules_do_not_import_model() -> None:
    """No module of abm.contagion imports abm.model, even under TYPE_CHECKING."""
    package = Path(abm.contagion.__file__).parent
    offenders = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module is not None:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if any(name == "abm.model" or name.startswith("abm.model.") for name in names):
                offenders.append(path.name)
    assert offenders == []
