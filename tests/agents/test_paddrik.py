"""Tests for the Paddrik et al. (2012) trader classes (kind ``paddrik``): schema and behaviour.

Published parameters come from Paddrik, Hayes, Todd, Yang, Beling and Scherer (2012), Table 1,
as the issue quotes them: counts, mean seconds between orders, position limits. Behaviour is
checked in hand-built markets: an idle noise trader ``lp`` rests the book through the exchange,
and the trader under test never arrives on its own (a huge mean gap), so only ``act`` moves it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from abm.agents.paddrik import PaddrikTrader, SizeDraw
from abm.agents.pov import PovTrader
from abm.market.orderbook import OrderResult
from abm.model import MarketModel
from abm.results.events import TradePurpose
from abm.results.run_result import RunResult
from abm.scenario.schema import DiscreteSize, PaddrikGroup, Scenario, ScenarioError

TICK = 0.25
Z = 5.0
IDLE = {"kind": "bernoulli", "rate": 0.0}
NEVER = 1e9  # mean seconds between orders: the trader never arrives by itself


def _group(role: str, **changes: Any) -> dict[str, Any]:
    return {"kind": "paddrik", "role": role, "count": 1, "mean_interarrival_s": NEVER, **changes}


def _market(role: str, *, value: float = 100.0, dt: float = 1.0, **changes: Any) -> MarketModel:
    scenario = Scenario.from_dict(
        {
            "name": "paddrik",
            "seed": 11,
            "dt": dt,
            "tick_size": TICK,
            "mark": "fundamental",
            "fundamental": {"kind": "arithmetic", "s0": value, "sigma": 0.0},
            "agents": {
                "lp": {"kind": "noise", "count": 1, "arrival": IDLE},
                "x": _group(role, **changes),
            },
        }
    )
    return MarketModel(scenario)


def _trader(model: MarketModel, group: str = "x") -> Any:
    return next(t for t in model.exchange.traders.values() if t.group == group)


def _book(model: MarketModel, bid: float = 99.75, ask: float = 100.25, qty: int = 1000) -> None:
    lp = _trader(model, "lp")
    model.exchange.limit(lp, True, round(bid / TICK), qty, purpose=TradePurpose.TAKER)
    model.exchange.limit(lp, False, round(ask / TICK), qty, purpose=TradePurpose.TAKER)


def _spy(model: MarketModel, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool, int]]:
    """Record (order type, is_buy, qty) of every order the trader under test sends."""
    sent: list[tuple[str, bool, int]] = []
    venue = model.book_venue
    market, limit = venue.market, venue.limit
    me = _trader(model)

    def spy_market(trader: Any, is_buy: bool, qty: int, **kw: Any) -> OrderResult:
        if trader is me:
            sent.append(("market", is_buy, qty))
        return market(trader, is_buy, qty, **kw)

    def spy_limit(trader: Any, is_buy: bool, price: int, qty: int, **kw: Any) -> OrderResult:
        if trader is me:
            sent.append(("limit", is_buy, qty))
        return limit(trader, is_buy, price, qty, **kw)

    monkeypatch.setattr(venue, "market", spy_market)
    monkeypatch.setattr(venue, "limit", spy_limit)
    return sent


# ----- schema --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "mean_s", "limit"),
    [
        ("small", 1500.0, None),
        ("fundamental_buyer", 40.0, None),
        ("fundamental_seller", 40.0, None),
        ("market_maker", 3.0, 30),
        ("opportunistic", 30.0, 30),
        ("hft", 0.35, 150),
    ],
)
def test_paddrik_role_defaults_are_the_published_speed_and_limit(
    role: str, mean_s: float, limit: int | None
) -> None:
    """Each role's default speed and position limit are Paddrik et al. (2012), Table 1."""
    group = PaddrikGroup(kind="paddrik", role=role, count=1)  # type: ignore[arg-type]
    assert (group.mean_interarrival_s, group.position_limit) == (mean_s, limit)


def test_paddrik_document_values_override_role_defaults() -> None:
    """A parameter the document gives wins over the role's default; the others stay."""
    group = PaddrikGroup.model_validate(
        {"kind": "paddrik", "role": "hft", "count": 7, "position_limit": 50}
    )
    assert (group.position_limit, group.mean_interarrival_s, group.side) == (50, 0.35, "both")


def test_paddrik_unknown_role_is_named() -> None:
    """An unknown role is one error line on the role field listing the roles."""
    with pytest.raises(ScenarioError, match=r"agents\.x\.role"):
        _market("whale")


def test_paddrik_skew_without_a_limit_is_rejected() -> None:
    """skew_ticks scales with position_limit, so it needs one."""
    with pytest.raises(ScenarioError, match="set a position_limit"):
        _market("small", skew_ticks=1.0)


def test_scenario_step_longer_than_fastest_class_is_rejected() -> None:
    """Dt above a class's mean gap cannot resolve it: the error names the group and dt."""
    with pytest.raises(ScenarioError, match=r"agents\.x\.mean_interarrival_s.*dt"):
        _market("hft", dt=0.5, mean_interarrival_s=0.35)


def test_discrete_size_needs_one_weight_per_size() -> None:
    """Sizes and weights pair up."""
    with pytest.raises(ValueError, match="one weight per size"):
        DiscreteSize(kind="discrete", sizes=[1, 2], weights=[1.0])


def test_size_draw_discrete_frequencies_follow_weights() -> None:
    """Each size's frequency is its weight share, within Z binomial standard errors."""
    spec = DiscreteSize(kind="discrete", sizes=[1, 2, 20], weights=[6.0, 3.0, 1.0])
    draw, rng, n = SizeDraw(spec), np.random.default_rng(4), 40_000
    sizes = np.array([draw(rng) for _ in range(n)])
    for size, p in ((1, 0.6), (2, 0.3), (20, 0.1)):
        assert abs((sizes == size).mean() - p) < Z * np.sqrt(p * (1 - p) / n)


def test_paddrik_arrival_probability_is_dt_over_mean_gap() -> None:
    """Bernoulli arrivals at rate dt / mean_interarrival_s give a mean gap of that many s."""
    model = _market("hft", dt=0.1, mean_interarrival_s=0.35)
    group = next(g for g in model.takers if g.name == "x")
    assert group.arrivals.rate == pytest.approx(0.1 / 0.35)


# ----- behaviour -----------------------------------------------------------------------------


def test_paddrik_fundamental_buyer_only_buys(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fundamental buyer's orders, market or limit, are all buys."""
    model = _market("fundamental_buyer")
    _book(model)
    sent = _spy(model, monkeypatch)
    trader, rng = _trader(model), np.random.default_rng(1)
    for _ in range(300):
        trader.act(rng, None)
    assert sent and all(is_buy for _, is_buy, _ in sent)
    assert {kind for kind, _, _ in sent} == {"market", "limit"}


def test_paddrik_value_discount_raises_a_buyers_taking() -> None:
    """Take = take_prob + value_sensitivity * (F - p) / F: 0.3 at the value, 1 at 5% below.

    The buyer takes at the ask (100.25), which becomes the last price it anchors on.
    """
    fractions = []
    for value in (100.25, 105.25):
        model = _market("fundamental_buyer", value=value, take_prob=0.3, value_sensitivity=20.0)
        trader, rng = _trader(model), np.random.default_rng(2)
        taken, n = 0, 2000
        for _ in range(n):
            _book(model, qty=5)
            before = model.exchange.fills
            trader.act(rng, None)
            taken += model.exchange.fills > before
        fractions.append(taken / n)
    assert abs(fractions[0] - 0.3) < Z * np.sqrt(0.3 * 0.7 / 2000)
    assert fractions[1] == 1.0


def test_paddrik_resting_order_sits_distance_behind_the_reference() -> None:
    """With a fixed distance of 2 ticks a buyer bids at the reference less 2 ticks."""
    distance = {"kind": "uniform", "low_ticks": 2, "high_ticks": 2}
    model = _market("fundamental_buyer", take_prob=0.0, value_sensitivity=0.0, distance=distance)
    _book(model)  # no trade yet: the reference is the mid, 100.00
    trader = _trader(model)
    trader.act(np.random.default_rng(3), None)
    (order_id,) = trader.resting
    order = model.book.order(order_id)
    assert order is not None and order.price == pytest.approx(99.5)


def test_paddrik_resting_order_never_crosses_the_touch() -> None:
    """A passive buy whose target is above the ask is pulled to one tick below the ask."""
    distance = {"kind": "uniform", "low_ticks": 0, "high_ticks": 0}
    model = _market("fundamental_buyer", take_prob=0.0, value_sensitivity=0.0, distance=distance)
    _book(model, bid=99.0, ask=99.25)
    model.exchange.last_price_ticks = round(100.0 / TICK)  # the last print was above the ask
    trader = _trader(model)
    trader.act(np.random.default_rng(3), None)
    order = model.book.order(trader.resting[0])
    assert order is not None and order.price == pytest.approx(99.0)


def test_paddrik_past_its_limit_a_trader_only_reduces_until_under_half(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the limit every order reduces |q|; the rule ends once |q| < limit / 2."""
    model = _market("opportunistic", position_limit=30, inventory=31)
    sent = _spy(model, monkeypatch)
    trader, rng = _trader(model), np.random.default_rng(5)
    steps = 0
    while abs(trader.inventory) * 2 >= 30:
        _book(model, qty=50)
        trader.act(rng, None)
        assert trader.reducing
        steps += 1
        assert steps < 500
    assert all(not is_buy for _, is_buy, _ in sent)
    assert trader.inventory >= 0  # never flipped
    _book(model, qty=50)
    trader.act(rng, None)
    assert not trader.reducing


def test_paddrik_orders_never_take_a_trader_past_its_limit() -> None:
    """At inventory 29 of 30 a buy is at most one lot."""
    size = {"kind": "fixed", "qty": 5}
    model = _market("opportunistic", position_limit=30, inventory=29, size=size, take_prob=1.0)
    _book(model)
    trader, rng = _trader(model), np.random.default_rng(6)
    for _ in range(50):
        trader.act(rng, True)
        trader.inventory = 29  # keep the test at the edge
    assert model.exchange.volume == 50


def test_paddrik_two_sided_quotes_bracket_the_book_without_crossing() -> None:
    """A market maker rests one bid below and one ask above, never through the touch."""
    model = _market("market_maker", inventory_take=0.0)
    _book(model, bid=99.75, ask=100.0)
    trader = _trader(model)
    trader.act(np.random.default_rng(7), None)
    bid, ask = (model.book.order(i) for i in trader.resting)
    assert bid is not None and ask is not None
    assert bid.side == "buy" and ask.side == "sell"
    assert bid.price <= 99.75 and ask.price >= 100.0


def test_paddrik_two_sided_quote_at_an_unchanged_price_keeps_its_priority() -> None:
    """A quote whose price is wanted again is kept (same order id), not cancelled and resent."""
    distance = {"kind": "uniform", "low_ticks": 1, "high_ticks": 1}
    model = _market("hft", distance=distance, take_prob=0.0, inventory_take=0.0)
    _book(model, bid=99.5, ask=100.5)
    trader, rng = _trader(model), np.random.default_rng(8)
    trader.act(rng, None)
    first = sorted(trader.resting)
    trader.act(rng, None)
    assert sorted(trader.resting) == first


def test_paddrik_inventory_skew_lowers_both_quotes() -> None:
    """Long q shifts both quotes by -skew_ticks * q / limit: at q = limit / 2, by 2 ticks."""
    distance = {"kind": "uniform", "low_ticks": 1, "high_ticks": 1}
    model = _market(
        "market_maker", distance=distance, inventory_take=0.0, skew_ticks=4.0, inventory=15
    )
    _book(model, bid=98.0, ask=102.0)  # mid 100: quotes at 100 -/+ 1 tick, less 2 ticks
    trader = _trader(model)
    trader.act(np.random.default_rng(9), None)
    prices = sorted(model.book.order(i).price for i in trader.resting)  # type: ignore[union-attr]
    assert prices == [pytest.approx(99.25), pytest.approx(99.75)]


def test_paddrik_order_lifetime_cancels_resting_orders() -> None:
    """A resting order older than order_lifetime_s is cancelled by the exchange."""
    model = _market("small", take_prob=0.0, order_lifetime_s=3.0)
    _book(model)
    trader = _trader(model)
    trader.act(np.random.default_rng(10), None)
    (order_id,) = trader.resting
    for _ in range(2):
        model.step()
    assert order_id in model.book
    model.step()
    assert order_id not in model.book


def test_paddrik_adopts_an_order_released_after_a_halt() -> None:
    """What rests of a released order joins the trader's resting orders."""
    model = _market("small")
    _book(model)
    trader = _trader(model)
    result = model.exchange.limit(trader, True, round(99.5 / TICK), 2, purpose=TradePurpose.TAKER)
    trader.order_released(result)
    assert trader.resting == [result.order_id]


def test_paddrik_and_pov_kinds_label_the_agents_table() -> None:
    """Recorded rows carry kind 'paddrik' and 'pov' and the group names."""
    scenario = Scenario.from_dict(
        {
            "name": "kinds",
            "tick_size": TICK,
            "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 0.0},
            "agents": {
                "x": _group("small"),
                "seller": {
                    "kind": "pov",
                    "count": 1,
                    "target_qty": 10,
                    "participation": 0.1,
                    "window_steps": 10,
                },
            },
        }
    )
    model = MarketModel(scenario)
    assert isinstance(_trader(model, "x"), PaddrikTrader)
    assert isinstance(_trader(model, "seller"), PovTrader)
    rows = RunResult.from_recorder(model.recorder, scenario_yaml="", summary={}, meta={}).agents
    assert set(zip(rows["group"], rows["kind"], strict=True)) == {
        ("x", "paddrik"),
        ("seller", "pov"),
    }


# ----- stress responses (abm.agents.stress) --------------------------------------------------


def _stressed(trader: Any, range_pct: float, price: float = 100.0) -> None:
    """Feed the trader's gauge a high ``range_pct`` percent above ``price`` at step 0."""
    trader.gauge.range_pct(0, price / (1.0 - range_pct / 100.0))


def test_paddrik_withdrawal_follows_the_hill_of_the_range(monkeypatch: pytest.MonkeyPatch) -> None:
    """At a range equal to withdraw_range_pct half the arrivals send nothing (n = 2: 1/2)."""
    model = _market(
        "fundamental_buyer", take_prob=0.0, value_sensitivity=0.0, withdraw_range_pct=1.0
    )
    _book(model, bid=99.75, ask=100.25)  # no trade: the reference is the mid, 100.00
    trader = _trader(model)
    _stressed(trader, 1.0)
    sent = _spy(model, monkeypatch)
    rng, n = np.random.default_rng(4), 4000
    for _ in range(n):
        trader.act(rng, None)
    share = len(sent) / n
    assert abs(share - 0.5) < Z * np.sqrt(0.25 / n)


def test_paddrik_withdrawn_buyer_cancels_its_bids_and_still_buys_for_value() -> None:
    """Stepping back cancels resting orders; a deep discount still makes it take (value)."""
    model = _market(
        "fundamental_buyer",
        value=110.0,
        take_prob=0.0,
        value_sensitivity=20.0,
        withdraw_range_pct=0.01,
        stress_steepness=8.0,
    )
    _book(model, qty=1000)
    trader = _trader(model)
    trader.resting.append(
        model.exchange.limit(
            trader, True, round(99.0 / TICK), 1, purpose=TradePurpose.TAKER
        ).order_id
    )
    _stressed(trader, 2.0)
    trader.act(np.random.default_rng(5), None)  # discount 9%: take probability 1
    assert trader.resting == []
    assert trader.inventory > 0
    assert not model.book.owner_orders(trader.unique_id)


def test_paddrik_calm_range_leaves_a_stress_sensitive_buyer_as_it_was() -> None:
    """With no price range the withdrawal probability is 0: the same orders as without it."""
    orders = []
    for withdraw in (None, 0.5):
        model = _market(
            "fundamental_buyer", take_prob=0.0, value_sensitivity=0.0, withdraw_range_pct=withdraw
        )
        _book(model)  # only resting bids, no trade: the reference (the mid) never moves
        trader, rng = _trader(model), np.random.default_rng(6)
        prices = []
        for _ in range(50):
            trader.act(rng, None)
            prices.append([model.book.order(i) for i in trader.resting])
        orders.append(prices)
    assert orders[0] == orders[1]


def test_paddrik_widening_pushes_quotes_away_under_stress() -> None:
    """widen_range_pct: at a range equal to it quote distances double (n = 2: 1 + 1)."""
    distance = {"kind": "uniform", "low_ticks": 2, "high_ticks": 2}
    spreads = []
    for stressed in (False, True):
        model = _market("market_maker", inventory_take=0.0, distance=distance, widen_range_pct=1.0)
        _book(model, bid=99.0, ask=101.0)  # reference: the mid, 100.00
        trader = _trader(model)
        if stressed:
            _stressed(trader, 1.0)
        trader.act(np.random.default_rng(7), None)
        bid, ask = (model.book.order(i) for i in trader.resting)
        assert bid is not None and ask is not None
        spreads.append(ask.price - bid.price)
    assert spreads == [pytest.approx(4 * TICK), pytest.approx(8 * TICK)]


def test_paddrik_reduce_takes_always_flatten_a_long_two_sided_trader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """take_direction reduce (the default): every take of a long trader is a sell."""
    model = _market(
        "hft", take_prob=1.0, inventory_take=0.0, skew_ticks=0.0, position_limit=100, inventory=50
    )
    sent = _spy(model, monkeypatch)
    trader, rng = _trader(model), np.random.default_rng(8)
    for _ in range(200):
        _book(model, qty=50)
        trader.act(rng, None)
        trader.inventory = 50
    assert sent and all(kind == "market" and not is_buy for kind, is_buy, _ in sent)


def test_paddrik_random_takes_go_to_a_fair_coin_side(monkeypatch: pytest.MonkeyPatch) -> None:
    """take_direction random: a long trader's takes are buys half the time (binomial bound)."""
    model = _market(
        "hft",
        take_prob=1.0,
        inventory_take=0.0,
        skew_ticks=0.0,
        position_limit=100,
        inventory=50,
        take_direction="random",
    )
    sent = _spy(model, monkeypatch)
    trader, rng, n = _trader(model), np.random.default_rng(9), 2000
    for _ in range(n):
        _book(model, qty=50)
        trader.act(rng, None)
        trader.inventory = 50
    buys = sum(is_buy for kind, is_buy, _ in sent if kind == "market")
    assert len(sent) == n
    assert abs(buys / n - 0.5) < Z * np.sqrt(0.25 / n)


def test_paddrik_random_takes_keep_the_inventory_part_reducing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Random side with inventory_take: P(sell) = (tp/2 + it|q|/L) / (tp + it|q|/L) = 3/4."""
    model = _market(
        "hft",
        take_prob=0.5,
        inventory_take=1.0,
        skew_ticks=0.0,
        position_limit=100,
        inventory=50,
        take_direction="random",
    )
    sent = _spy(model, monkeypatch)
    trader, rng, n = _trader(model), np.random.default_rng(10), 4000
    for _ in range(n):
        _book(model, qty=50)
        trader.act(rng, None)
        trader.inventory = 50
    assert len(sent) == n  # take probability 0.5 + 1.0 * 0.5 = 1
    sells = sum(not is_buy for _, is_buy, _ in sent)
    assert abs(sells / n - 0.75) < Z * np.sqrt(0.75 * 0.25 / n)


def test_paddrik_stressed_intermediary_flattens_with_stress_flatten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A withdrawn two-sided trader only cancels; with stress_flatten it also sells to reduce."""
    for flatten in (False, True):
        model = _market(
            "hft",
            inventory_take=0.0,
            skew_ticks=0.0,
            position_limit=100,
            inventory=20,
            withdraw_range_pct=0.01,
            stress_steepness=8.0,
            stress_flatten=flatten,
        )
        _book(model, qty=1000)
        sent = _spy(model, monkeypatch)
        trader = _trader(model)
        _stressed(trader, 2.0)
        trader.act(np.random.default_rng(11), None)
        assert trader.resting == []
        if flatten:
            assert sent and all(kind == "market" and not is_buy for kind, is_buy, _ in sent)
            assert 0 <= trader.inventory < 20
        else:
            assert sent == [] and trader.inventory == 20


def test_paddrik_stressed_intermediary_passes_on_what_its_quote_took_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pass_range_pct: lots bought on its bid since the last arrival are sold at once (net 0)."""
    model = _market(
        "hft",
        take_prob=1.0,
        inventory_take=0.0,
        skew_ticks=0.0,
        position_limit=100,
        pass_range_pct=0.01,
        stress_steepness=8.0,
        take_direction="random",
        size={"kind": "fixed", "qty": 3},
        distance={"kind": "uniform", "low_ticks": 1, "high_ticks": 1},
    )
    _book(model, bid=99.0, ask=101.0, qty=1000)  # its quotes, one tick off 100.00, lead
    trader = _trader(model)
    _stressed(trader, 2.0)  # passing probability 1
    trader.act(np.random.default_rng(12), None)  # quotes both sides, takes nothing
    assert trader.inventory == trader.anchor == 0 and len(trader.resting) == 2
    lp = _trader(model, "lp")
    model.exchange.market(lp, False, 3, purpose=TradePurpose.TAKER)  # fills its bid, the best
    assert trader.inventory == 3
    sent = _spy(model, monkeypatch)
    trader.act(np.random.default_rng(13), None)
    assert sent[0] == ("market", False, 3)  # passed on, then quoted again: no other take
    assert all(kind == "limit" for kind, _, _ in sent[1:])
    assert trader.inventory == trader.anchor == 0


def test_paddrik_calm_intermediary_with_pass_range_keeps_its_fills() -> None:
    """With no price range the passing probability is 0: filled lots stay in the inventory."""
    model = _market(
        "hft", inventory_take=0.0, skew_ticks=0.0, position_limit=100, pass_range_pct=0.5
    )
    _book(model, qty=1000)
    trader = _trader(model)
    trader.inventory = 5  # as if its bid had been filled since the last arrival
    trader.act(np.random.default_rng(14), None)
    assert trader.inventory == 5


def test_paddrik_pass_range_needs_a_two_sided_trader() -> None:
    """pass_range_pct on a one-sided class is a scenario error naming the field."""
    with pytest.raises(ScenarioError, match="pass_range_pct"):
        _market("fundamental_buyer", pass_range_pct=0.5)


def test_paddrik_seller_rests_no_offer_beyond_its_value_limit() -> None:
    """value_limit_pct 5: no ask while p is more than 5% below F, as usual within it.

    The reference is the mid 100.00 (no trade yet); (F - p) / F is 5.66% at F = 106 (no
    order) and 4.76% at F = 105 (an ask 2 ticks above, 100.50), computed by hand.
    """
    distance = {"kind": "uniform", "low_ticks": 2, "high_ticks": 2}
    resting = {}
    for value in (106.0, 105.0):
        model = _market(
            "fundamental_seller",
            value=value,
            take_prob=0.0,
            value_sensitivity=0.0,
            distance=distance,
            value_limit_pct=5.0,
        )
        _book(model)
        trader = _trader(model)
        trader.act(np.random.default_rng(3), None)
        resting[value] = [model.book.order(i) for i in trader.resting]
    assert resting[106.0] == []
    (order,) = resting[105.0]
    assert order is not None and order.side == "sell" and order.price == pytest.approx(100.5)


def test_paddrik_value_limit_needs_a_one_sided_trader() -> None:
    """value_limit_pct on a two-sided class is a scenario error naming the field."""
    with pytest.raises(ScenarioError, match="value_limit_pct"):
        _market("hft", value_limit_pct=5.0)
