"""AMM analysis: impermanent loss, LVR closed forms and the LP P&L decomposition.

Checked against published numbers (impermanent loss of -5.72% at a 2x move and -20% at 4x,
Pintail 2019), against the pools themselves (a position's value after an arbitrage to a new
price, against holding its deposit), and against exact identities (the decomposition sums in
exact rationals; its P&L telescopes to the change in the pool's value).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from abm.market.amm import ConcentratedLiquidityPool, ConstantProductPool
from abm.market.amm.arbitrage import arbitrage, block_times, gbm_prices, simulate_arbitrage
from analysis.amm import (
    arbitrage_probability,
    arbitrage_profit_rate,
    arbitrage_rate,
    concentrated_impermanent_loss,
    concentrated_lvr_rate,
    fixed_block_arbitrage_factor,
    fixed_block_arbitrage_profit_rate,
    impermanent_loss,
    lp_pnl_decomposition,
    lvr_rate,
)


def test_impermanent_loss_published_values():
    """IL is about -5.72% at a 2x price move and exactly -20% at 4x (Pintail 2019)."""
    assert round(impermanent_loss(2.0), 4) == -0.0572
    assert math.isclose(impermanent_loss(4.0), -0.2, rel_tol=1e-12)
    assert impermanent_loss(1.0) == 0.0


def test_impermanent_loss_symmetric_in_log_price():
    """A move by r and by 1/r cost the same fraction (2 sqrt(r) / (1 + r) is symmetric)."""
    ratios = np.array([0.1, 0.5, 1.5, 3.0, 10.0])
    np.testing.assert_allclose(impermanent_loss(ratios), impermanent_loss(1 / ratios), rtol=1e-12)


@pytest.mark.parametrize("new_price", [25.0, 71.3, 100.0, 150.0, 400.0])
def test_impermanent_loss_matches_constant_product_pool(new_price):
    """The v2 pool's value after arbitrage to a new price, over holding, is 1 + IL (fee 0)."""
    pool = ConstantProductPool(fee_pips=0)
    deposit = pool.add_liquidity("lp", 10**12, 10**14)
    arbitrage(pool, new_price)
    value = pool.reserve_base * new_price + pool.reserve_quote
    held = deposit.base * new_price + deposit.quote
    assert math.isclose(value / held - 1, impermanent_loss(new_price / 100.0), abs_tol=1e-9)


@pytest.mark.parametrize("new_price", [80.0, 95.0, 110.0, 125.0, 200.0, 50.0])
def test_concentrated_impermanent_loss_matches_pool_range(new_price):
    """A range position's value after arbitrage, over holding, is 1 + the range IL (Loesch 2021)."""
    lower_tick, upper_tick = 44_400, 48_600  # prices about 84.8 and 129.0
    pool = ConcentratedLiquidityPool(100, fee_pips=0, tick_spacing=60)
    deposit = pool.add_liquidity("lp", lower_tick, upper_tick, 10**13)
    arbitrage(pool, new_price)
    view = pool.position("lp", lower_tick, upper_tick)
    assert view is not None
    value = view.base * new_price + view.quote
    held = deposit.base * new_price + deposit.quote
    expected = concentrated_impermanent_loss(
        new_price / 100.0, 1.0001**lower_tick, 1.0001**upper_tick, 100.0
    )
    assert math.isclose(value / held - 1, expected, abs_tol=1e-9)


def test_concentrated_impermanent_loss_wide_range_is_constant_product():
    """As the range widens to (0, inf), the range IL tends to 2 sqrt(r) / (1 + r) - 1."""
    ratios = np.array([0.25, 0.8, 2.0, 4.0])
    wide = concentrated_impermanent_loss(ratios, 1e-12, 1e12, 1.0)
    np.testing.assert_allclose(wide, impermanent_loss(ratios), atol=1e-5)
    narrow = concentrated_impermanent_loss(ratios, 0.5, 2.0, 1.0)
    assert np.all(narrow < impermanent_loss(ratios))  # concentration amplifies the loss


def test_concentrated_lvr_rate_full_range_is_constant_product():
    """sigma^2 L sqrt(P) / 4 over a near-infinite range equals sigma^2 / 8 of V = 2 L sqrt(P)."""
    sigma, liquidity, price = 0.6, 5e9, 121.0
    full = concentrated_lvr_rate(sigma, liquidity, price, 1e-30, 1e30)
    assert math.isclose(full, lvr_rate(sigma, 2 * liquidity * math.sqrt(price)), rel_tol=1e-12)
    assert concentrated_lvr_rate(sigma, liquidity, price, 130.0, 140.0) == 0.0


def test_arbitrage_probability_limits():
    """No fee: every block trades; sqrt(2 lambda) f / sigma = 1: half of them (MMR 2023)."""
    assert arbitrage_probability(0.5, 100.0, 0.0) == 1.0
    assert math.isclose(arbitrage_probability(0.3, 0.5, 0.3), 0.5, rel_tol=1e-12)
    assert math.isclose(
        arbitrage_profit_rate(0.3, 0.5, 0.3, 80.0), lvr_rate(0.3, 80.0) / 2, rel_tol=1e-12
    )


def test_fixed_block_arbitrage_factor_published_constant():
    """sqrt(2 pi) / |zeta(1/2)| = 1.7164, the constant of Nezlobin & Tassy (2025)."""
    sigma_b = 0.01
    factor = fixed_block_arbitrage_factor(1.0, sigma_b**2, sigma_b)  # fee = sigma_b
    assert abs((1.0 / factor - 1.0) - 1.7164) < 1e-4  # the paper rounds 1.71645 down
    assert fixed_block_arbitrage_factor(1.0, 1e-4, 0.0) == 1.0
    assert math.isclose(
        fixed_block_arbitrage_profit_rate(0.5, 1e-4, 0.0, 40.0), lvr_rate(0.5, 40.0), rel_tol=1e-12
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: impermanent_loss(-1.0),
        lambda: impermanent_loss(float("nan")),
        lambda: concentrated_impermanent_loss(2.0, 1.0, 2.0, 3.0),
        lambda: lvr_rate(-0.1, 1.0),
        lambda: arbitrage_probability(0.0, 1.0, 0.01),
        lambda: arbitrage_probability(0.1, 1.0, 1.0),
        lambda: fixed_block_arbitrage_factor(0.1, 0.0, 0.01),
        lambda: concentrated_lvr_rate(0.1, 1.0, 1.0, 2.0, 1.0),
    ],
)
def test_amm_analysis_bad_input_raises(call):
    """Out-of-domain inputs raise ValueError rather than returning NaN."""
    with pytest.raises(ValueError):
        call()


def simulated_blocks(pool) -> pd.DataFrame:
    rng = np.random.default_rng(19)
    times = block_times(rng, 2.0, rate=400.0)
    return simulate_arbitrage(pool, times, gbm_prices(rng, 100.0, 0.6, times))


def v2_pool():
    pool = ConstantProductPool(fee_pips=3000)
    pool.add_liquidity("lp", 10**12, 10**14)
    return pool


def v3_pool():
    pool = ConcentratedLiquidityPool(100, fee_pips=3000, tick_spacing=60)
    pool.add_liquidity("wide", 40_020, 52_020, 10**12)
    pool.add_liquidity("narrow", 45_600, 46_500, 5 * 10**12)
    return pool


@pytest.mark.parametrize("make_pool", [v2_pool, v3_pool])
def test_lp_pnl_decomposition_sums_exactly(make_pool):
    """The identity pnl == rebalancing_pnl + fees - lvr holds exactly, row by row, on a path."""
    blocks = simulated_blocks(make_pool())
    exact = lp_pnl_decomposition(blocks, exact=True)
    identity = exact["pnl"] - (exact["rebalancing_pnl"] + exact["fees"] - exact["lvr"])
    assert all(value == 0 for value in identity)
    # the P&L telescopes to the change in value, marked at the first and the last price
    first, last = blocks.iloc[0], blocks.iloc[-1]
    start = int(first["base_before"]) * Fraction(float(first["price"])) + int(first["quote_before"])
    end = int(last["base_after"]) * Fraction(float(last["price"])) + int(last["quote_after"])
    assert sum(exact["pnl"]) == end - start
    floats = lp_pnl_decomposition(blocks)
    np.testing.assert_array_equal(floats["lvr"].to_numpy(), [float(v) for v in exact["lvr"]])


@pytest.mark.parametrize("make_pool", [v2_pool, v3_pool])
def test_lp_pnl_decomposition_lvr_is_arbitrage_profit_plus_fees(make_pool):
    """Each block's LVR is the arbitrageur's profit plus the fee it paid, and never negative."""
    blocks = simulated_blocks(make_pool())
    table = lp_pnl_decomposition(blocks)
    scale = float((blocks["quote_before"] * 2).max())
    np.testing.assert_allclose(
        table["lvr"] - table["fees"], blocks["arbitrage_profit"], rtol=0, atol=1e-12 * scale
    )
    assert (table["lvr"] >= -1e-12 * scale).all()
    assert (table["fees"] >= 0).all() and table["fees"].sum() > 0


def test_lp_pnl_decomposition_refuses_deposits_between_blocks():
    """Holdings that change between blocks (a deposit) break the identity: refused."""
    blocks = simulated_blocks(v2_pool())
    blocks.loc[5, "base_before"] += 1
    with pytest.raises(ValueError, match="between blocks"):
        lp_pnl_decomposition(blocks)
    with pytest.raises(ValueError, match="missing"):
        lp_pnl_decomposition(blocks.drop(columns=["fee_base"]))


def test_arbitrage_rate_by_hand():
    """Two blocks: profit 3 over exposure V1 dt1 + V2 dt2 = 10*1 + 20*0.5."""
    blocks = pd.DataFrame(
        {
            "time": [1.0, 1.5],
            "price": [2.0, 2.0],
            "base_before": [2, 5],
            "quote_before": [6, 10],
            "base_after": [5, 5],
            "quote_after": [10, 10],
            "fee_base": [0, 0],
            "fee_quote": [0, 0],
            "arbitrage_profit": [1.0, 2.0],
        }
    )
    assert math.isclose(arbitrage_rate(blocks), 3.0 / (10.0 * 1.0 + 20.0 * 0.5))
