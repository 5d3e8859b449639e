"""The AMM venue in the model (`abm.market.amm.venue`): settlement, blocks, shares, shocks.

References outside the venue's code: the pure pools of `abm.market.amm` (each executed swap
must move exactly what the same swap on a fresh pure pool moves), conservation of cash, lots
and every held instrument over all accounts (`MarketModel.totals`, `holdings_totals`, checked
at every step), and the constant-product share's closed-form value ``s / S * 2 y``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from abm.market.amm.common import InvalidPoolActionError
from abm.market.amm.concentrated import ConcentratedLiquidityPool
from abm.market.amm.constant_product import ConstantProductPool
from abm.market.amm.venue import POOL_ACCOUNT_ID, PROTOCOL, AmmVenue
from abm.market.orderbook import Side
from abm.model import MarketModel
from abm.results.events import TradePurpose
from abm.scenario.schema import Scenario, ScenarioError

MAKER = {
    "kind": "market_maker",
    "count": 2,
    "policy": {"kind": "symmetric", "spread": 0.04},
    "quote_size": 10,
    "max_inventory": 200,
    "reference": "mid",
}
NOISE = {
    "kind": "noise",
    "count": 100,
    "arrival": {"kind": "poisson", "rate": 0.05},
    "mix": {"market": 0.3, "limit": 0.4, "cancel": 0.3},
    "reference": "mid",
    "distance": {"kind": "exponential", "mean_ticks": 5.0},
    "size": {"kind": "uniform", "low": 1, "high": 5},
}
IDLE = {  # accounts the tests swap from by hand: they never act on their own
    "kind": "liquidity_provider",
    "count": 3,
    "cash": 1_000_000.0,
    "inventory": 1000,
    "deposit_step": 10_000,
}


def scenario(amm: dict[str, Any], agents: dict[str, Any], **extra: Any) -> Scenario:
    doc: dict[str, Any] = {
        "name": "amm_test",
        "seed": 11,
        "steps": 200,
        "tick_size": 0.01,
        "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 0.02},
        "amm": amm,
        "agents": {"mm": MAKER, **agents},
        **extra,
    }
    return Scenario.from_dict(doc)


def venue_of(model: MarketModel) -> AmmVenue:
    venue = model.exchange.venues["amm"]
    assert isinstance(venue, AmmVenue)
    return venue


def idle_traders(model: MarketModel) -> list[Any]:
    return [t for t in model.exchange.traders.values() if t.group == "idle"]


def run_checking_conservation(sc: Scenario) -> MarketModel:
    """Step ``sc`` to its end, asserting cash, lots and held instruments conserved each step."""
    model = MarketModel(sc)
    start = model.totals()
    assert all(qty == 0 for qty in model.holdings_totals().values())
    for _ in range(sc.steps):
        model.step()
        assert model.totals() == start, model.step_index
        totals = model.holdings_totals()
        assert all(qty == 0 for qty in totals.values()), (model.step_index, totals)
    return model


ALL_AGENTS = {
    "noise": {**NOISE, "venue": "best"},
    "informed": {
        "kind": "informed",
        "count": 20,
        "arrival": {"kind": "bernoulli", "rate": 0.05},
        "noise_sd": 0.02,
        "lag_steps": 2,
        "threshold": 0.02,
        "order_type": "market",
        "base_size": 1,
        "size_per_edge": 50.0,
        "max_size": 10,
        "position_limit": 200,
        "venue": "best",
    },
    "lp": {"kind": "liquidity_provider", "count": 2, "cash": 50_000.0, "inventory": 400},
    "arb": {"kind": "arbitrageur", "count": 1, "cash": 100_000.0, "inventory": 200},
    "arb_cex": {
        "kind": "arbitrageur",
        "count": 1,
        "cash": 100_000.0,
        "inventory": 200,
        "reference": "fundamental",
        "book_leg": False,
    },
}
POOL_SHOCKS = [
    {"kind": "pool_exploit", "step": 60, "fraction": 0.2, "token": "base"},
    {"kind": "fee_change", "step": 90, "fee_pips": 1000},
    {"kind": "oracle_manipulation", "step": 120, "push": 0.05},
    {"kind": "lp_withdrawal", "step": 150, "fraction": 0.5},
]


@pytest.mark.parametrize(
    ("amm", "lp"),
    [
        ({"pool": "constant_product", "block_steps": 4, "fee_pips": 500}, {}),
        (
            {"pool": "concentrated", "block_steps": 3, "ordering": "random", "fee_pips": 500},
            {"range_rule": "band", "width": 0.01, "check_steps": 5},
        ),
        (
            {"pool": "concentrated", "range_lower": 90.0, "range_upper": 110.0, "fee_pips": 500},
            {"range_rule": "volatility", "check_steps": 5, "withdraw_step": 170},
        ),
    ],
)
def test_every_step_conserves_cash_lots_and_shares_with_all_amm_agents(
    amm: dict[str, Any], lp: dict[str, Any]
) -> None:
    """Conservation law: cash, lots and each share instrument sum to their start every step."""
    agents = {**ALL_AGENTS, "lp": {**ALL_AGENTS["lp"], **lp}}
    model = run_checking_conservation(scenario(amm, agents, shocks=POOL_SHOCKS))
    trades = model.recorder.table("trades")
    at_pool = trades[trades["venue"] == "amm"]
    assert len(at_pool) > 10  # the run did swap
    assert set(at_pool["purpose"]) >= {"taker", "arbitrage"}
    venue = venue_of(model)
    assert venue.outside_base > 0  # the exploit's loot stays counted
    assert venue.pool is not None and venue.pool.fee_pips == 1000


def test_swaps_move_exactly_what_the_pure_pool_moves() -> None:
    """Reference: the same swaps, in the same order, on a fresh `ConstantProductPool`."""
    sc = scenario({"reserve_base": 2000, "fee_pips": 3000}, {"idle": IDLE})
    model = MarketModel(sc)
    venue = venue_of(model)
    a, b, c = idle_traders(model)
    assert venue.pool is not None
    pure = ConstantProductPool(3000)
    pure.add_liquidity(PROTOCOL, venue.pool.reserve_base, venue.pool.reserve_quote)
    orders = [(a, True, 37), (b, False, 55), (c, True, 3), (a, False, 120)]
    before = {t.unique_id: (t.cash_ticks, t.inventory) for t in (a, b, c)}
    for trader, is_buy, qty in orders:
        venue.swap(trader, is_buy, qty, purpose=TradePurpose.TAKER)
    model.step()  # block_steps 1: they settle at step 1's close
    expected = {t.unique_id: [0, 0] for t in (a, b, c)}
    for trader, is_buy, qty in orders:
        if is_buy:
            result = pure.swap_exact_output(Side.BUY, qty)
            expected[trader.unique_id][0] -= result.amount_in
            expected[trader.unique_id][1] += qty
        else:
            result = pure.swap_exact_input(Side.SELL, qty)
            expected[trader.unique_id][0] += result.amount_out
            expected[trader.unique_id][1] -= qty
    for t in (a, b, c):
        cash0, inv0 = before[t.unique_id]
        assert [t.cash_ticks - cash0, t.inventory - inv0] == expected[t.unique_id]
    assert (venue.pool.reserve_base, venue.pool.reserve_quote) == (
        pure.reserve_base,
        pure.reserve_quote,
    )
    trades = model.recorder.table("trades")
    rows = trades[trades["venue"] == "amm"]
    assert list(rows["qty"]) == [37, 55, 3, 120]
    assert list(rows["aggressor"].astype(str)) == ["buy", "sell", "buy", "sell"]
    first = rows.iloc[0]
    assert first["buyer"] == a.unique_id and first["seller"] == POOL_ACCOUNT_ID
    pools = model.recorder.table("pools")
    last = pools.iloc[-1]
    assert (last["step"], last["swaps"], last["volume_base"]) == (1, 4, 37 + 55 + 3 + 120)
    assert (last["reserve_base"], last["reserve_quote"]) == (pure.reserve_base, pure.reserve_quote)


def test_concentrated_swaps_move_exactly_what_the_pure_pool_moves() -> None:
    """Reference: a `ConcentratedLiquidityPool` given the same position and the same swaps."""
    sc = scenario(
        {"pool": "concentrated", "range_lower": 95.0, "range_upper": 105.0, "reserve_base": 3000},
        {"idle": IDLE},
    )
    model = MarketModel(sc)
    venue = venue_of(model)
    pool = venue.pool
    assert isinstance(pool, ConcentratedLiquidityPool)
    (view,) = pool.positions()
    pure = ConcentratedLiquidityPool(pool.price_fraction(), pool.fee_pips, pool.tick_spacing)
    pure.add_liquidity(PROTOCOL, view.lower, view.upper, view.liquidity)
    a, b, _ = idle_traders(model)
    cash_a, cash_b = a.cash_ticks, b.cash_ticks
    venue.swap(a, True, 250, purpose=TradePurpose.TAKER)
    venue.swap(b, False, 400, purpose=TradePurpose.TAKER)
    model.step()
    assert cash_a - a.cash_ticks == pure.swap_exact_output(Side.BUY, 250).amount_in
    assert b.cash_ticks - cash_b == pure.swap_exact_input(Side.SELL, 400).amount_out
    assert pool.sqrt_price_x96 == pure.sqrt_price_x96
    assert (pool.reserve_base, pool.reserve_quote) == (pure.reserve_base, pure.reserve_quote)


def test_swaps_wait_for_the_block_and_arbitrage_goes_first() -> None:
    """Swaps queued at steps 1-2 of a 3-step block settle at step 3, arbitrage first."""
    sc = scenario({"block_steps": 3}, {"idle": IDLE})
    model = MarketModel(sc)
    venue = venue_of(model)
    a, b, _ = idle_traders(model)
    venue.swap(a, True, 10, purpose=TradePurpose.TAKER)
    model.step()
    venue.swap(b, False, 20, purpose=TradePurpose.ARBITRAGE)
    model.step()
    assert venue.queued == 2
    assert (a.inventory, b.inventory) == (1000, 1000)
    model.step()
    assert venue.queued == 0
    trades = model.recorder.table("trades")
    rows = trades[trades["venue"] == "amm"]
    assert list(rows["step"]) == [3, 3]
    assert list(rows["purpose"].astype(str)) == ["arbitrage", "taker"]
    assert (a.inventory, b.inventory) == (1010, 980)


def test_random_ordering_is_the_venues_own_seeded_shuffle() -> None:
    """Same seed: the same order; the shuffle reorders at least one of a few seeds."""

    def order(seed: int) -> list[int]:
        sc = scenario({"ordering": "random"}, {"idle": IDLE}).override({"seed": seed})
        model = MarketModel(sc)
        venue = venue_of(model)
        traders = idle_traders(model)
        for i, trader in enumerate(traders):
            venue.swap(trader, True, 5 + i, purpose=TradePurpose.TAKER)
        model.step()
        trades = model.recorder.table("trades")
        return list(trades[trades["venue"] == "amm"]["qty"])

    assert order(1) == order(1)
    assert any(order(seed) != [5, 6, 7] for seed in range(1, 6))


def test_a_guarded_swap_past_its_limit_is_rejected_not_executed() -> None:
    sc = scenario({}, {"idle": IDLE})
    model = MarketModel(sc)
    venue = venue_of(model)
    a, b, _ = idle_traders(model)
    price = Fraction(venue.price_ticks())
    venue.swap(a, True, 300, purpose=TradePurpose.TAKER)  # moves the price up 3%
    venue.swap(b, True, 5, purpose=TradePurpose.TAKER, price_limit=price * Fraction(101, 100))
    model.step()
    assert b.inventory == 1000
    assert model.recorder.table("pools").iloc[-1]["rejected"] == 1
    with pytest.raises(InvalidPoolActionError, match="qty"):
        venue.swap(a, True, 0, purpose=TradePurpose.TAKER)


def test_constant_product_share_is_valued_at_its_part_of_both_reserves() -> None:
    """Closed form: ``s / S * (x P + y) = s / S * 2 y`` at the pool price ``P = y / x``."""
    sc = scenario({"reserve_base": 1000}, {"idle": IDLE})
    model = MarketModel(sc)
    venue = venue_of(model)
    a = idle_traders(model)[0]
    change = venue.deposit(a, 100, 10_000_000)
    pool = venue.pool
    assert isinstance(pool, ConstantProductPool)
    assert a.holdings == {"amm.lp": change.liquidity}
    assert venue.holdings == {"amm.lp": -change.liquidity}
    expected = change.liquidity / pool.total_shares * 2 * pool.reserve_quote * 0.01
    assert model.holdings_value(a.holdings) == pytest.approx(expected, rel=1e-12)
    # worth what it paid, to the rounding of the deposit (at most one base and one quote unit)
    paid = (change.base * venue.price_ticks() + change.quote) * 0.01
    assert abs(model.holdings_value(a.holdings) - paid) < venue.price()
    back = venue.withdraw(a, change.liquidity)
    assert a.holdings == {} and venue.holdings == {}
    assert 0 <= change.base - back.base <= 1 and 0 <= change.quote - back.quote <= 1


def test_concentrated_position_is_valued_at_its_withdrawal() -> None:
    """Reference: what a full withdrawal pays now, base marked at the pool price."""
    sc = scenario({"pool": "concentrated"}, {"idle": IDLE})
    model = MarketModel(sc)
    venue = venue_of(model)
    a, b, _ = idle_traders(model)
    ticks = venue.range_ticks(98.0, 102.0)
    change = venue.deposit(a, 200, 100_000)
    narrow = venue.deposit(b, 200, 100_000, ticks)
    venue.swap(b, True, 50, purpose=TradePurpose.TAKER)
    model.step()
    value = model.holdings_value(b.holdings)
    price = venue.price_ticks()
    cash, inv = b.cash_ticks, b.inventory
    ((name, liquidity),) = venue.lp_positions(b)
    assert liquidity == narrow.liquidity
    out = venue.withdraw(b, liquidity, venue.position_ticks(name))
    assert (b.cash_ticks - cash, b.inventory - inv) == (out.quote, out.base)
    assert value == pytest.approx((out.base * price + out.quote) * 0.01, rel=1e-12)
    assert change.liquidity > 0 and model.holdings_totals() == {
        name: 0 for name in model.holdings_totals()
    }


def test_pool_exploit_drains_to_the_outside_account_and_moves_the_price() -> None:
    sc = scenario(
        {"reserve_base": 1000},
        {"idle": IDLE},
        shocks=[{"kind": "pool_exploit", "step": 2, "fraction": 0.25, "token": "base"}],
    )
    model = run_for(sc, 2)
    venue = venue_of(model)
    assert venue.pool is not None
    assert (venue.pool.reserve_base, venue.outside_base) == (750, 250)
    assert venue.price_ticks() == pytest.approx(10_000 / 0.75)  # y / x with x cut by a quarter


def test_fee_change_and_lp_withdrawal_shocks() -> None:
    sc = scenario(
        {"reserve_base": 1000, "fee_pips": 3000},
        {"idle": {**IDLE, "deposit_step": 1}},
        shocks=[
            {"kind": "fee_change", "step": 2, "fee_pips": 500},
            {"kind": "lp_withdrawal", "step": 3, "fraction": 0.5},
        ],
    )
    model = run_for(sc, 2)
    venue = venue_of(model)
    pool = venue.pool
    assert isinstance(pool, ConstantProductPool) and pool.fee_pips == 500
    shares = {t.unique_id: t.holdings["amm.lp"] for t in idle_traders(model)}
    protocol = pool.shares(PROTOCOL)
    model.step()
    assert pool.shares(PROTOCOL) == protocol - protocol // 2
    for t in idle_traders(model):
        assert t.holdings["amm.lp"] == shares[t.unique_id] - shares[t.unique_id] // 2
    assert venue.outside_base > 0  # the protocol's half left the pool, not the model


def test_oracle_manipulation_pushes_the_price_for_one_block() -> None:
    sc = scenario(
        {"reserve_base": 5000, "block_steps": 2},
        {"idle": IDLE},
        shocks=[{"kind": "oracle_manipulation", "step": 3, "push": 0.1}],
    )
    model = run_for(sc, 3)
    venue = venue_of(model)
    before = 10_000.0
    assert venue.price_ticks() == pytest.approx(before)  # pushed only at the block's end
    model.step()  # step 4 ends the block: pushed after its swaps
    assert venue.price_ticks() == pytest.approx(before * 1.1, rel=1e-3)
    assert venue.outside_base > 0 and venue.outside_quote < 0  # a flash loan in flight
    model.step()
    model.step()  # step 6: the attacker sells back first
    assert venue.price_ticks() == pytest.approx(before, rel=1e-3)
    assert venue.outside_base == 0 and venue.outside_quote < 0  # it paid the fee twice: LPs' gain


def run_for(sc: Scenario, steps: int) -> MarketModel:
    model = MarketModel(sc)
    for _ in range(steps):
        model.step()
    return model


@pytest.mark.parametrize(
    ("agents", "shocks", "path"),
    [
        ({"lp": {"kind": "liquidity_provider", "count": 1}}, [], "agents.lp.kind"),
        ({"arb": {"kind": "arbitrageur", "count": 1}}, [], "agents.arb.kind"),
        ({"noise": {**NOISE, "venue": "best"}}, [], "agents.noise.venue"),
        ({}, [{"kind": "fee_change", "step": 3, "fee_pips": 10}], "shocks.0.kind"),
    ],
)
def test_what_needs_a_pool_is_refused_without_an_amm_section(
    agents: dict[str, Any], shocks: list[dict[str, Any]], path: str
) -> None:
    doc = {
        "name": "no_pool",
        "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 0.02},
        "agents": {"mm": MAKER, **agents},
        "shocks": shocks,
    }
    with pytest.raises(ScenarioError, match=path.replace(".", r"\.")):
        Scenario.from_dict(doc)


def test_same_seed_same_pool_rows() -> None:
    """Determinism: the ``pools`` table of a seeded run with every AMM agent repeats exactly."""
    sc = scenario({"block_steps": 2, "ordering": "random"}, ALL_AGENTS).override({"steps": 60})
    tables = [run_for(sc, 60).recorder.table("pools") for _ in range(2)]
    assert tables[0].equals(tables[1])
    assert len(tables[0]) == 31 and np.all(tables[0]["reserve_base"] > 0)
