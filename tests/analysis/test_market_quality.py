"""Tests for analysis.market_quality: spreads, depth profile, resiliency, summary of a real run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _helpers import market_table, run_baseline
from _helpers import trades_table as _trades

from abm.results.run_result import RunResult
from analysis.market_quality import (
    depth_profile,
    effective_spread,
    market_quality_summary,
    mean_abs_mispricing,
    price_impact,
    quoted_spread,
    realized_spread,
    spread_resiliency,
    trade_cost_summary,
    trade_costs,
)
from analysis.price_formation import InsufficientDataError

MIDS = [100.00, 100.02, 100.04, 100.00, 99.98]


def _market(mid: list[float], spread: float = 0.02) -> pd.DataFrame:
    """A market table with the given end-of-step mids, a constant spread, fundamental 100."""
    return market_table(mid, spread=spread, fundamental=100.0, ask_depth=20)


@pytest.fixture
def hand_trades() -> pd.DataFrame:
    """Three book trades on the MIDS path and one interdealer trade."""
    return _trades(
        [
            (1, 100.03, 2, "buy", "book"),
            (2, 100.01, 1, "sell", "book"),
            (3, 100.05, 1, "buy", "book"),
            (2, 200.00, 9, "buy", "interdealer"),
        ]
    )


def _depth(rows: list[tuple[int, str, int, float, int]]) -> pd.DataFrame:
    step, side, level, price, qty = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "step": np.asarray(step, dtype=np.int64),
            "side": pd.array(side, dtype="string"),
            "level": np.asarray(level, dtype=np.int64),
            "price": np.asarray(price, dtype=float),
            "qty": np.asarray(qty, dtype=np.int64),
        }
    )


@pytest.fixture
def hand_depth() -> pd.DataFrame:
    """Two snapshots: a full book at step 0, a bid-only book at step 10."""
    return _depth(
        [
            (0, "bid", 1, 100.00, 5),
            (0, "bid", 2, 99.99, 3),
            (0, "bid", 3, 99.97, 4),
            (0, "ask", 1, 100.02, 2),
            (0, "ask", 2, 100.03, 6),
            (10, "bid", 1, 99.98, 7),
        ]
    )


def test_quoted_spread_in_price_units_and_bps() -> None:
    """A 0.02 spread at mid 100 is 2 bps; a one-sided step is NaN."""
    market = _market([100.0, 100.0])
    market.loc[1, ["spread", "mid"]] = math.nan
    spread = quoted_spread(market)
    assert spread["spread_bps"].iloc[0] == pytest.approx(2.0)
    assert spread["spread"].iloc[0] == pytest.approx(0.02)
    assert spread["spread_bps"].isna().iloc[1]


def test_effective_spread_uses_previous_step_mid(hand_trades: pd.DataFrame) -> None:
    """Per trade 2 * sign * (price - mid of step - 1): 0.06, 0.02, 0.02 (book trades only)."""
    values = effective_spread(hand_trades, _market(MIDS))
    np.testing.assert_allclose(values, [0.06, 0.02, 0.02], atol=1e-9)


def test_realized_spread_and_price_impact_at_horizon(hand_trades: pd.DataFrame) -> None:
    """At h = 2 by hand: realized 0.06, -0.06, NaN (past the end); impact 0, 0.04, NaN."""
    market = _market(MIDS)
    realized = realized_spread(hand_trades, market, horizon_steps=2)
    impact = price_impact(hand_trades, market, horizon_steps=2)
    np.testing.assert_allclose(realized, [0.06, -0.06, math.nan], atol=1e-9)
    np.testing.assert_allclose(impact, [0.0, 0.04, math.nan], atol=1e-9)


def test_trade_costs_satisfy_effective_equals_realized_plus_twice_impact() -> None:
    """The decomposition effective = realized + 2 * impact holds trade by trade."""
    rng = np.random.default_rng(7)
    mids = list(100.0 + np.cumsum(rng.integers(-2, 3, 60)) * 0.01)
    rows = [
        (int(s), mids[s - 1] + 0.01 * int(rng.integers(-3, 4)), 1, side, "book")
        for s, side in zip(rng.integers(1, 60, 40), rng.choice(["buy", "sell"], 40), strict=True)
    ]
    costs = trade_costs(_trades(rows), _market(mids), horizon_steps=5).dropna()
    assert len(costs) > 10
    np.testing.assert_allclose(
        costs["effective_spread"], costs["realized_spread"] + 2 * costs["price_impact"], atol=1e-9
    )


def test_trade_cost_summary_is_quantity_weighted(hand_trades: pd.DataFrame) -> None:
    """Effective (2 * 0.06 + 0.02 + 0.02) / 4; realized (2 * 0.06 - 0.06) / 3; impact 0.04 / 3."""
    summary = trade_cost_summary(hand_trades, _market(MIDS), horizon_steps=2)
    assert summary["effective_spread"] == pytest.approx(0.04)
    assert summary["realized_spread"] == pytest.approx(0.02)
    assert summary["price_impact"] == pytest.approx(0.04 / 3)
    assert summary["effective_spread_bps"] == pytest.approx(4.0, rel=1e-3)


def test_trade_costs_rejects_unknown_aggressor() -> None:
    """An aggressor other than buy/sell is a ValueError naming the value."""
    trades = _trades([(1, 100.0, 1, "hold", "book")])
    with pytest.raises(ValueError, match="'hold'"):
        trade_costs(trades, _market(MIDS), horizon_steps=1)


def test_depth_profile_touch_and_within_n_ticks(hand_depth: pd.DataFrame) -> None:
    """By hand: bid 5 at the touch, 5 + 3 within 1 tick, 12 within 3; an empty side is 0."""
    profile = depth_profile(hand_depth, n_ticks=1, tick_size=0.01).set_index("step")
    assert profile.loc[0].to_dict() == {
        "bid_touch": 5.0,
        "ask_touch": 2.0,
        "bid_within": 8.0,
        "ask_within": 8.0,
    }
    assert profile.loc[10].to_dict() == {
        "bid_touch": 7.0,
        "ask_touch": 0.0,
        "bid_within": 7.0,
        "ask_within": 0.0,
    }
    wide = depth_profile(hand_depth, n_ticks=3, tick_size=0.01).set_index("step")
    assert wide.loc[0, "bid_within"] == 12.0


def test_depth_profile_rejects_bad_band() -> None:
    """A negative band or non-positive tick size is a ValueError."""
    with pytest.raises(ValueError, match="tick_size > 0"):
        depth_profile(_depth([(0, "bid", 1, 1.0, 1)]), n_ticks=1, tick_size=0.0)


def test_spread_resiliency_on_constructed_series() -> None:
    """Median 1, k = 2: shocks at 3 (recovers in 2 steps) and 8 (in 1); mean 1.5."""
    spread = [1, 1, 1, 5, 3, 1, 1, 1, 4, 1, 1, 1, 1]
    result = spread_resiliency(spread, k=2.0, tolerance=0.0)
    np.testing.assert_array_equal(result.shock_positions, [3, 8])
    np.testing.assert_array_equal(result.recovery_steps, [2, 1])
    assert result.mean_recovery_steps == 1.5 and result.n_censored == 0
    assert result.half_life_steps == 1.0  # one of two shocks is over after 1 step


def test_spread_resiliency_counts_censored_shock_and_one_sided_book() -> None:
    """A NaN spread is infinitely wide; a shock open at the end is censored, not averaged."""
    spread = [math.nan, 2, 2, math.nan, 2, 2, 2, 9, 7]
    result = spread_resiliency(spread, k=2.0, tolerance=0.25)
    np.testing.assert_array_equal(result.shock_positions, [3, 7])
    np.testing.assert_array_equal(result.recovery_steps, [1])
    assert result.n_censored == 1 and result.half_life_steps == 1.0
    with pytest.raises(ValueError, match="k > 1 \\+ tolerance"):
        spread_resiliency(spread, k=1.2, tolerance=0.25)
    with pytest.raises(InsufficientDataError):
        spread_resiliency([math.nan, math.nan])


def test_spread_resiliency_treats_tick_multiples_exactly() -> None:
    """A 4-tick spread is exactly 2x a 2-tick median, not a shock, whatever the float rounding."""
    two_ticks, four_ticks = 100.03 - 100.01, 100.06 - 100.02  # 0.0199..96 and 0.0400..06
    assert four_ticks > 2 * two_ticks
    spread = np.array([two_ticks] * 5 + [four_ticks, two_ticks])
    assert spread_resiliency(spread, k=2.0, tolerance=0.0).shock_positions.size == 0


def test_mean_abs_mispricing_hand_computed() -> None:
    """Fundamental 100, mids 100, 100.02, 100.04, 100, 99.98: mean gap 0.016."""
    assert mean_abs_mispricing(_market(MIDS)) == pytest.approx(0.016)


def test_market_quality_summary_on_hand_tables(
    hand_trades: pd.DataFrame, hand_depth: pd.DataFrame
) -> None:
    """Summary of hand tables: spreads as computed above, depth keys, NaN where data is short."""
    tables = {"market": _market(MIDS), "trades": hand_trades, "depth": hand_depth}
    summary = market_quality_summary(tables, horizon_steps=2, tick_size=0.01, depth_n_ticks=1)
    assert summary["quoted_spread_ticks"] == pytest.approx(2.0)
    assert summary["effective_spread"] == pytest.approx(0.04)
    assert summary["mispricing_mean_ticks"] == pytest.approx(1.6)
    assert summary["depth_bid_within_mean"] == pytest.approx(7.5)
    assert math.isnan(summary["variance_ratio"])  # 4 returns cannot give VR(10)
    assert math.isnan(summary["ofi"]) and summary["ofi_n"] == 0.0
    with pytest.raises(ValueError, match="tick_size"):
        market_quality_summary(tables)


@pytest.fixture(scope="module")
def baseline_result() -> RunResult:
    return run_baseline({"steps": 300, "record.depth_levels": 5})


def test_market_quality_summary_finite_on_baseline_run(baseline_result: RunResult) -> None:
    """A 300-step baseline run with depth snapshots yields finite headline numbers."""
    summary = market_quality_summary(baseline_result)
    for key in (
        "quoted_spread",
        "quoted_spread_bps",
        "effective_spread",
        "realized_spread",
        "price_impact",
        "kyle_lambda",
        "kyle_lambda_se",
        "kyle_lambda_r2",
        "amihud_illiquidity",
        "mispricing_mean_ticks",
        "variance_ratio",
        "variance_ratio_z",
        "depth_bid_touch_mean",
        "depth_ask_within_mean",
        "ofi",
        "ofi_r2",
    ):
        assert math.isfinite(summary[key]), key
    assert summary["tick_size"] == 0.01  # read from the run's scenario
    assert summary["effective_spread"] > 0 and summary["kyle_lambda"] > 0


def test_market_quality_summary_agrees_with_model_summary(baseline_result: RunResult) -> None:
    """Mean quoted spread and mispricing equal the model's own summary.json numbers."""
    summary = market_quality_summary(baseline_result)
    assert summary["quoted_spread"] == pytest.approx(baseline_result.summary["spread_mean"])
    assert summary["mispricing_mean"] == pytest.approx(baseline_result.summary["mispricing_mean"])
