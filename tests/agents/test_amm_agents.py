"""AMM agents: the arbitrageur, liquidity providers' range rules, and taker routing.

References: the no-trade band of Milionis, Moallemi & Roughgarden (2023) (after an
arbitrageur's swap the pool price sits within a lot of ``S * (1 - f)`` or ``S / (1 - f)``),
the range rule's own definition (a band provider re-centres exactly when the pool tick leaves
its range), and a naive cost walk (the routed venue is the one whose all-in cost, recomputed
here from the book's levels and the pure pool's formula, is lower).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "market"))
from test_amm_venue import IDLE, NOISE, idle_traders, run_for, scenario, venue_of

from abm.agents.routing import book_cost_ticks, choose_venue
from abm.market.amm.constant_product import ConstantProductPool
from abm.market.orderbook import Side
from abm.model import MarketModel
from abm.results.events import TradePurpose

CEX_ARB: dict[str, Any] = {
    "kind": "arbitrageur",
    "count": 1,
    "cash": 1_000_000.0,
    "inventory": 5000,
    "reference": "fundamental",
    "book_leg": False,
}


def test_fundamental_arbitrageur_leaves_the_pool_at_the_band_edge() -> None:
    """After each arbitrage block the pool price is within a lot of S*(1-f) or S/(1-f)."""
    sc = scenario(
        {"fee_pips": 3000, "reserve_base": 5000},
        {"arb": CEX_ARB},
        fundamental={"kind": "arithmetic", "s0": 100.0, "sigma": 0.2},
    )
    model = MarketModel(sc)
    venue = venue_of(model)
    checked = 0
    for _ in range(120):
        model.step()
        trades = model.recorder.table("trades")
        step = model.step_index
        arb = trades[(trades["step"] == step) & (trades["purpose"].astype(str) == "arbitrage")]
        if len(arb) == 0:
            continue
        value = model.fundamental_value / sc.tick_size
        price = venue.price_ticks()
        one_lot = 2 * price / venue.pool.reserve_base  # the price move of one lot, about
        edge = value * 0.997 if arb["aggressor"].astype(str).iloc[0] == "buy" else value / 0.997
        assert abs(price - edge) <= one_lot + 1e-9, (step, price, edge)
        checked += 1
    assert checked > 10


def test_band_provider_re_centres_when_the_price_leaves_its_range() -> None:
    sc = scenario(
        {"pool": "concentrated", "reserve_base": 500},
        {
            "idle": IDLE,
            "lp": {
                "kind": "liquidity_provider",
                "count": 1,
                "cash": 100_000.0,
                "inventory": 500,
                "range_rule": "band",
                "width": 0.002,
                "check_steps": 1,
            },
        },
    )
    model = run_for(sc, 1)
    venue = venue_of(model)
    lp = next(t for t in model.exchange.traders.values() if t.group == "lp")
    lower, upper = lp.ticks
    assert lower <= venue.pool_tick() < upper
    seller = idle_traders(model)[0]
    venue.swap(seller, False, 800, purpose=TradePurpose.TAKER)  # through the range, down
    model.step()
    assert not lower <= venue.pool_tick() < upper
    model.step()  # the next check re-centres
    assert lp.reranges == 1
    new_lower, new_upper = lp.ticks
    assert new_lower <= venue.pool_tick() < new_upper and new_upper < upper


def test_best_routing_picks_the_lower_all_in_cost() -> None:
    """Naive reference: the book walked level by level against the v2 formula."""
    sc = scenario({"fee_pips": 300, "reserve_base": 20_000}, {"noise": NOISE})
    model = run_for(sc, 30)
    venue = venue_of(model)
    pool = venue.pool
    assert isinstance(pool, ConstantProductPool)
    seen = set()
    for qty in (1, 5, 20, 80, 200):
        for is_buy in (True, False):
            book = book_cost_ticks(model.book, is_buy, qty, sc.tick_size)
            mirror = ConstantProductPool(pool.fee_pips)
            mirror.add_liquidity("x", pool.reserve_base, pool.reserve_quote)
            if is_buy:
                at_pool = mirror.quote_exact_output(Side.BUY, qty).amount_in
            else:
                at_pool = mirror.quote_exact_input(Side.SELL, qty).amount_out
            if book is None:
                expected = "amm"
            elif is_buy:
                expected = "amm" if at_pool < book else "book"
            else:
                expected = "amm" if at_pool > book else "book"
            assert choose_venue(model, is_buy, qty) == expected
            seen.add(expected)
    assert seen == {"amm", "book"}  # both venues win somewhere on this grid


@pytest.mark.parametrize("route", ["amm", "best"])
def test_routed_noise_swaps_at_the_pool(route: str) -> None:
    sc = scenario({"fee_pips": 0, "reserve_base": 50_000}, {"noise": {**NOISE, "venue": route}})
    trades = run_for(sc, 80).recorder.table("trades")
    at_pool = trades[trades["venue"].astype(str) == "amm"]
    assert len(at_pool) > 0 and set(at_pool["purpose"].astype(str)) == {"taker"}
